import { randomBytes } from 'node:crypto'
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely'
import { MIGRATIONS } from '../../migrations/index.js'
import { configError } from '../core/errors.js'
import { migrateFreshTo } from './migrate.js'
import type { Database } from './schema.js'

/** A table, index, trigger or view as SQLite stores it. */
export interface SchemaObject {
  type: string
  name: string
  /** The table an index or trigger belongs to. */
  table: string
  sql: string
}

/**
 * SQLite's own objects, the only ones exempt: its sequence and statistics tables and the indexes
 * it makes for UNIQUE/PRIMARY KEY constraints (no SQL of their own). Anything else named
 * `sqlite_…` can only have been written into the schema table by hand, and is compared.
 */
const sqliteOwn = (o: { type: string; name: string; sql: string | null }) =>
  (o.type === 'table' && /^sqlite_(sequence|stat[1-4])$/.test(o.name)) ||
  (o.type === 'index' && o.sql === null && /^sqlite_autoindex_/.test(o.name))

/** White space is not meaning: the SQL is compared with every run of it made one space. */
export const normaliseSql = (text: string | null) => (text ?? '').replace(/\s+/g, ' ').trim()

/** Every object in a SQLite database's schema, but SQLite's own. */
export async function sqliteObjects(
  db: Kysely<unknown> | Kysely<Database>,
): Promise<SchemaObject[]> {
  const r = await sql<{
    type: string
    name: string
    tbl_name: string
    sql: string | null
  }>`select type, name, tbl_name, sql from sqlite_master`.execute(db)
  return r.rows
    .filter((o) => !sqliteOwn(o))
    .map((o) => ({ type: o.type, name: o.name, table: o.tbl_name, sql: normaliseSql(o.sql) }))
}

/** The migrations up to `latest`, in order, or null when `latest` is not one of dsh's. */
export function migrationsUpTo(latest: string): string[] | null {
  const names = Object.keys(MIGRATIONS).sort()
  const i = names.indexOf(latest)
  return i < 0 ? null : names.slice(0, i + 1)
}

const sqliteExpected = new Map<string, Promise<SchemaObject[]>>()

/**
 * The objects dsh's migrations create on a fresh SQLite store migrated to `latest`: an in-memory
 * database run through the real migrator (tens of milliseconds; kept per version per process).
 */
export function expectedSqliteObjects(latest: string): Promise<SchemaObject[]> {
  let known = sqliteExpected.get(latest)
  if (!known) {
    known = (async () => {
      const { default: SQLite } = await import('better-sqlite3')
      const db = new Kysely<unknown>({
        dialect: new SqliteDialect({ database: new SQLite(':memory:') }),
      })
      try {
        await migrateFreshTo(db, latest)
        return await sqliteObjects(db)
      } finally {
        await db.destroy()
      }
    })()
    known.catch(() => sqliteExpected.delete(latest))
    sqliteExpected.set(latest, known)
  }
  return known
}

/**
 * Runs `fn` with the URL of a scratch database on the server of `url`, migrated to `latest` by
 * dsh's migrator, and drops it afterwards whatever happens. Needs the right to CREATE DATABASE.
 */
export async function withMigratedScratchPg<T>(
  url: string,
  latest: string,
  fn: (scratchUrl: string) => Promise<T>,
): Promise<T> {
  const { default: pg } = await import('pg')
  const name = `dsh_schema_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  try {
    await admin.query(`create database ${name}`).catch((e: Error) => {
      throw configError(
        'schema_check_needs_createdb',
        `checking the schema needs a scratch database, and CREATE DATABASE was refused: ${e.message}`,
        'run the check as a role that may create databases (ALTER ROLE … CREATEDB)',
      )
    })
    const scratch = new URL(url)
    scratch.pathname = `/${name}`
    try {
      const pool = new pg.Pool({ connectionString: scratch.toString(), max: 1 })
      const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
      try {
        await migrateFreshTo(db, latest)
      } finally {
        await db.destroy()
      }
      return await fn(scratch.toString())
    } finally {
      await admin.query(`drop database if exists ${name} with (force)`)
    }
  } finally {
    await admin.end()
  }
}
