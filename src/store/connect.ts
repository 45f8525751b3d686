import { existsSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import {
  Kysely,
  PostgresAdapter,
  PostgresDialect,
  type SqliteDatabase,
  SqliteDialect,
  sql,
} from 'kysely'
import { configError } from '../core/errors.js'
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

export const isPostgresUrl = (spec: string): boolean => /^postgres(ql)?:\/\//i.test(spec)

/** postgres://user:secret@host:5432/db → postgres://user@host:5432/db */
export function redactUrl(spec: string): string {
  try {
    const url = new URL(spec)
    url.password = ''
    return url.toString()
  } catch {
    return spec.replace(/:\/\/([^:@/]+):[^@/]*@/, '://$1@')
  }
}

export async function openStore(spec: string, options: OpenOptions = {}): Promise<Store> {
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
      `no dsh store at ${path}`,
      'run `dsh init` first, or point --db / DSH_DB at an existing store',
    )
  }
  if (options.create) mkdirSync(dirname(path), { recursive: true })
  const { default: SQLite } = await import('better-sqlite3')
  let native: InstanceType<typeof SQLite>
  try {
    native = new SQLite(path, { timeout: options.busyTimeoutMs ?? 10_000 })
    native.pragma('journal_mode = WAL')
    native.pragma('synchronous = NORMAL')
    native.pragma('foreign_keys = ON')
  } catch (cause) {
    throw configError(
      'store_unreadable',
      `cannot open the SQLite store at ${path}: ${(cause as Error).message}`,
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
    location: path,
    write: (fn) =>
      db.connection().execute(async (conn) => {
        await sql`begin immediate`.execute(conn)
        try {
          const result = await fn(conn)
          await sql`commit`.execute(conn)
          return result
        } catch (err) {
          await sql`rollback`.execute(conn)
          throw err
        }
      }),
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
    all(params: ReadonlyArray<unknown>): unknown[]
    run(params: ReadonlyArray<unknown>): {
      changes: number | bigint
      lastInsertRowid: number | bigint
    }
    iterate(params: ReadonlyArray<unknown>): IterableIterator<unknown>
  }
}): SqliteDatabase {
  native.defaultSafeIntegers(true)
  const narrow = (v: unknown) =>
    typeof v === 'bigint' && v >= MIN_SAFE && v <= MAX_SAFE ? Number(v) : v
  const row = (r: unknown): unknown => {
    if (typeof r !== 'object' || r === null) return r
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(r)) out[k] = narrow(v)
    return out
  }
  return {
    close: () => {
      native.close()
    },
    prepare(text) {
      const stmt = native.prepare(text)
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
  const location = redactUrl(url)
  const { default: pg } = await import('pg')
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5_000 })
  // An idle client that loses its server must not crash the process.
  pool.on('error', () => {})
  try {
    const client = await pool.connect()
    client.release()
  } catch (cause) {
    await pool.end().catch(() => {})
    const reason = String((cause as Error).message ?? cause).replaceAll(
      decodeURIComponent(new URL(url).password || '\u0000'),
      '***',
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
    write: (fn) => db.transaction().execute(fn),
    close: () => db.destroy(),
  }
}
