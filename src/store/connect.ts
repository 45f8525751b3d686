import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import {
  Kysely,
  PostgresAdapter,
  PostgresDialect,
  type SqliteDatabase,
  SqliteDialect,
  sql,
} from 'kysely'
import { configError, DshError } from '../core/errors.js'
import { maskUrl } from '../core/url-mask.js'
import { isReadOnlyStore } from './errors.js'
import type { Database } from './schema.js'

export type Dialect = 'sqlite' | 'postgres'

export interface Store {
  readonly db: Kysely<Database>
  readonly dialect: Dialect
  /** Where the store is, safe to print (no password). */
  readonly location: string
  /**
   * Runs `fn` in a write transaction. On SQLite it starts with BEGIN IMMEDIATE, so a
   * read-then-write transaction waits for the busy timeout instead of failing at once with
   * "database is locked" when another process writes.
   */
  write<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T>
  /**
   * SQLite only: a consistent copy of the whole store at `dest`, made with the online backup API
   * on this process's own connection (so writes made meanwhile through it never restart the
   * copy), a few pages a step so the event loop stays free.
   */
  copyTo?(dest: string): Promise<void>
  close(): Promise<void>
}

export interface OpenOptions {
  /** Create the SQLite file (and its folder) when missing; only `dsh init` and `dsh migrate` do. */
  create?: boolean
  busyTimeoutMs?: number
}

/** The dialect behind a Kysely instance or transaction. */
export const dialectOf = (db: Kysely<unknown> | Kysely<Database>): Dialect =>
  db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite'

/** A prepared SQLite statement run with positional values (better-sqlite3). */
export interface NativeStatement {
  run(params: readonly unknown[]): { changes: number | bigint }
  /** Rows as arrays of values in column order (a reader statement after `raw(true)`). */
  all(params: readonly unknown[]): unknown[]
  raw(on: boolean): NativeStatement
  readonly reader: boolean
}
const nativeWriters = new WeakMap<object, { prepare(sql: string): NativeStatement }>()

/**
 * Inside a SQLite store's `write`, the transaction's own better-sqlite3 connection, for
 * statements run row by row without a promise per row (src/store/bulk.ts); undefined elsewhere
 * (PostgreSQL, or outside a write).
 */
export const nativeWriter = (db: object) => nativeWriters.get(db)

export const isPostgresUrl = (spec: string): boolean => /^postgres(ql)?:\/\//i.test(spec)

/** The one URL-masking function (src/core/url-mask.ts), under the name the store code knew. */
export const redactUrl = maskUrl

const STORE_URL_FORM =
  'expected a SQLite file path or postgres://user:password@host:5432/database (percent-encode special characters)'

/**
 * Refuses, before anything is opened or created, a --db that looks like a URL but is no usable
 * PostgreSQL URL (a mistyped scheme, a bad port, a broken % escape): exit 7 with the expected
 * form, its password masked.
 */
function checkStoreSpec(spec: string): void {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(spec)
  if (!scheme) return
  const bad = (why: string) =>
    configError(
      'invalid_store_url',
      `${maskUrl(spec)} is not a usable store: ${why}`,
      STORE_URL_FORM,
    )
  if (!isPostgresUrl(spec)) throw bad(`unknown scheme "${scheme[1]}"`)
  let url: URL
  try {
    url = new URL(spec)
  } catch {
    throw bad('it is not a valid URL (check the port and any % escapes)')
  }
  try {
    for (const part of [url.username, url.password, url.pathname]) decodeURIComponent(part)
    for (const part of url.search.split(/[?&=]/)) decodeURIComponent(part)
  } catch {
    throw bad('it has a broken % escape')
  }
  if (url.port !== '' && !/^\d{1,5}$/.test(url.port)) throw bad('its port is not a number')
}

/** A write refused because the store is read-only is a store problem (exit 7), not a bug. */
function readOnlyAware(location: string, write: Store['write']): Store['write'] {
  return async (fn) => {
    try {
      return await write(fn)
    } catch (err) {
      if (!isReadOnlyStore(err)) throw err
      throw configError(
        'store_read_only',
        `the store at ${location} is read-only: nothing was changed`,
        'check the file’s (and its folder’s) permissions and mount, or the database user’s rights',
        err,
      )
    }
  }
}

export async function openStore(spec: string, options: OpenOptions = {}): Promise<Store> {
  checkStoreSpec(spec)
  return isPostgresUrl(spec) ? openPostgres(spec) : openSqlite(spec, options)
}

/**
 * One SQLite connection per file per process, shared and reference-counted. better-sqlite3 is
 * synchronous: two connections in one thread contending for the write lock would block the
 * event loop in the busy handler while the holder can never finish. Sharing one connection
 * serialises this process's transactions through Kysely's connection mutex instead; other
 * processes are serialised by BEGIN IMMEDIATE and the busy timeout.
 */
const sharedSqlite = new Map<string, { store: Promise<Store>; refs: number }>()

async function openSqlite(path: string, options: OpenOptions): Promise<Store> {
  const { resolve } = await import('node:path')
  const key = resolve(path)
  let entry = sharedSqlite.get(key)
  if (!entry) {
    entry = { store: openSqliteConnection(path, options), refs: 0 }
    sharedSqlite.set(key, entry)
    entry.store.catch(() => sharedSqlite.delete(key))
  }
  entry.refs++
  const shared = await entry.store
  const held = entry
  let closed = false
  return {
    ...shared,
    async close() {
      if (closed) return
      closed = true
      held.refs--
      if (held.refs === 0) {
        sharedSqlite.delete(key)
        await shared.close()
      }
    },
  }
}

async function openSqliteConnection(path: string, options: OpenOptions): Promise<Store> {
  if (!options.create && !existsSync(path)) {
    throw configError(
      'store_missing',
      `no dsh store at ${maskUrl(path)}`,
      'run `dsh init` first, or point --db / DSH_DB at an existing store',
    )
  }
  if (options.create) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    // Made here, mode 0600, whatever the umask: SQLite gives -wal and -shm the same mode.
    if (path !== ':memory:' && !existsSync(path)) {
      try {
        closeSync(openSync(path, 'wx', 0o600))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
    }
  }
  const { default: SQLite } = await import('better-sqlite3')
  let native: InstanceType<typeof SQLite>
  try {
    native = new SQLite(path, { timeout: options.busyTimeoutMs ?? 10_000 })
    // Look before changing anything: another program's SQLite file is left exactly as it was.
    const tables = native
      .prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'")
      .pluck()
      .all() as string[]
    if (tables.length > 0 && !tables.includes('kysely_migration')) {
      native.close()
      throw configError(
        'not_a_dsh_store',
        `${maskUrl(path)} is a SQLite database but not a dsh store (it has ${tables.length} other table${tables.length === 1 ? '' : 's'}); nothing was changed`,
        'point --db / DSH_DB at a dsh store, or at a new file for `dsh init`',
      )
    }
    native.pragma('journal_mode = WAL')
    native.pragma('synchronous = NORMAL')
    native.pragma('foreign_keys = ON')
  } catch (cause) {
    if (cause instanceof DshError) throw cause
    throw configError(
      'store_unreadable',
      `cannot open the SQLite store at ${maskUrl(path)}: ${maskUrl((cause as Error).message)}`,
      'check the path and its permissions, or run `dsh init`',
      cause,
    )
  }
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: exactIntegers(native) }),
  })
  return {
    db,
    dialect: 'sqlite',
    location: maskUrl(path),
    write: readOnlyAware(maskUrl(path), (fn) =>
      db.connection().execute(async (conn) => {
        await sql`begin immediate`.execute(conn)
        nativeWriters.set(conn, native as unknown as { prepare(sql: string): NativeStatement })
        try {
          const result = await fn(conn)
          await sql`commit`.execute(conn)
          return result
        } catch (err) {
          await sql`rollback`.execute(conn).catch(() => {})
          throw err
        }
      }),
    ),
    async copyTo(dest: string) {
      await native.backup(dest, { progress: () => 256 })
    },
    close: () => db.destroy(),
  }
}

/**
 * A SQLite copy (a backup) opened with its own, unshared connection and none of the live store's
 * pragmas: read-only to look into it without changing a byte, writable only to finish a new copy.
 */
export async function openSqliteCopy(
  path: string,
  opts: { writable?: boolean } = {},
): Promise<Store> {
  const { default: SQLite } = await import('better-sqlite3')
  let native: InstanceType<typeof SQLite>
  try {
    native = new SQLite(path, { readonly: !opts.writable, fileMustExist: true })
    if (!opts.writable) native.pragma('query_only = ON')
  } catch (cause) {
    throw configError(
      'store_unreadable',
      `cannot open ${path} as a SQLite file: ${(cause as Error).message}`,
      'check the path; a dsh backup is a SQLite file with a .json manifest beside it',
      cause,
    )
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: native }) })
  return {
    db,
    dialect: 'sqlite',
    location: path,
    write: (fn) => db.transaction().execute(fn),
    close: () => db.destroy(),
  }
}

/**
 * better-sqlite3 hands INTEGER columns back as JavaScript numbers, which silently round past
 * 2^53 (an amount of 9007199254740993 minor units would come back as …992). Read every integer
 * exactly (safe integers) and give back a number only where it is exact: money columns beyond
 * 2^53 arrive as bigint, everything else keeps its usual number type.
 */
function exactIntegers(native: {
  defaultSafeIntegers(on?: boolean): unknown
  close(): unknown
  prepare(sql: string): {
    readonly reader: boolean
    readonly busy: boolean
    all(params: ReadonlyArray<unknown>): unknown[]
    run(params: ReadonlyArray<unknown>): {
      changes: number | bigint
      lastInsertRowid: number | bigint
    }
    iterate(params: ReadonlyArray<unknown>): IterableIterator<unknown>
  }
}): SqliteDatabase {
  native.defaultSafeIntegers(true)
  const statements = new Map<string, ReturnType<typeof native.prepare>>()
  const narrow = (v: unknown) =>
    typeof v === 'bigint' && v >= MIN_SAFE && v <= MAX_SAFE ? Number(v) : v
  // The row is a fresh object from the driver: narrowed in place, not copied (a read of 100k
  // rows copied every one of them).
  const row = (r: unknown): unknown => {
    if (typeof r !== 'object' || r === null) return r
    const o = r as Record<string, unknown>
    for (const k in o) {
      const v = o[k]
      if (typeof v === 'bigint') o[k] = narrow(v)
    }
    return o
  }
  return {
    close: () => {
      native.close()
    },
    prepare(text) {
      // One prepared statement per query text, reused (most recently used kept): a statement
      // per query, freed only when the garbage collector gets round to it, let native memory
      // grow by kilobytes per request (a flood of unknown branches took tens of MB).
      let stmt = statements.get(text)
      if (stmt && !stmt.busy) statements.delete(text)
      else stmt = native.prepare(text)
      statements.set(text, stmt)
      if (statements.size > 256) statements.delete(statements.keys().next().value as string)
      return {
        get reader() {
          return stmt.reader
        },
        all: (params) => stmt.all(params).map(row),
        run: (params) => stmt.run(params),
        *iterate(params) {
          for (const r of stmt.iterate(params)) yield row(r)
        },
      }
    },
  }
}
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const MIN_SAFE = -MAX_SAFE

async function openPostgres(url: string): Promise<Store> {
  const location = maskUrl(url)
  const { default: pg } = await import('pg')
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5_000 })
  // An idle client that loses its server must not crash the process.
  pool.on('error', () => {})
  try {
    const client = await pool.connect()
    client.release()
  } catch (cause) {
    await pool.end().catch(() => {})
    const reason = maskUrl(
      String((cause as Error).message ?? cause).replaceAll(
        decodeURIComponent(new URL(url).password || '\u0000'),
        '***',
      ),
    )
    throw configError(
      'store_unreachable',
      `cannot connect to PostgreSQL at ${location}: ${reason}`,
      'check that the server is running and the URL in --db / DSH_DB is right',
      undefined,
    )
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  return {
    db,
    dialect: 'postgres',
    location,
    write: readOnlyAware(location, (fn) => db.transaction().execute(fn)),
    close: () => db.destroy(),
  }
}
