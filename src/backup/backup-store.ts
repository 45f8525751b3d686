import { type Kysely, sql } from 'kysely'
import { dialectOf } from '../store/connect.js'
import type { Database } from '../store/schema.js'

/** Every table of the store (migrations' own included), sorted: what a backup must hold. */
export async function tableNames(db: Kysely<Database>): Promise<string[]> {
  const rows =
    dialectOf(db) === 'postgres'
      ? await sql<{ name: string }>`select table_name as name from information_schema.tables
          where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db)
      : await sql<{ name: string }>`select name from sqlite_master
          where type = 'table' and name not like 'sqlite_%'`.execute(db)
  return rows.rows.map((r) => r.name).sort()
}

/** Row counts per table, read in one transaction so they describe one moment. */
export async function rowCounts(db: Kysely<Database>): Promise<Record<string, number>> {
  const count = async (d: Kysely<Database>) => {
    const out: Record<string, number> = {}
    for (const t of await tableNames(d)) {
      const r = await sql<{
        n: number | string
      }>`select count(*) as n from ${sql.table(t)}`.execute(d)
      out[t] = Number(r.rows[0]?.n ?? 0)
    }
    return out
  }
  return dialectOf(db) === 'postgres' && !db.isTransaction
    ? db.transaction().setIsolationLevel('repeatable read').execute(count)
    : count(db)
}

/** SQLite's own check of a file's pages and indexes: 'ok', or what is wrong. */
export async function integrityCheck(db: Kysely<Database>): Promise<string> {
  const r = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(db)
  return r.rows.map((x) => x.integrity_check).join('; ') || 'no answer'
}

/** A copy is kept in rollback-journal mode, so it can be opened read-only without a -shm file. */
export async function leaveWalMode(db: Kysely<Database>): Promise<void> {
  await sql`pragma journal_mode = delete`.execute(db)
}

/** The names of the migrations applied to a store, sorted. */
export async function appliedMigrations(db: Kysely<Database>): Promise<string[]> {
  const r = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db)
  return r.rows.map((x) => x.name)
}

/** PostgreSQL: the snapshot of the caller's repeatable-read transaction, for pg_dump to share. */
export async function exportSnapshot(trx: Kysely<Database>): Promise<string> {
  const r = await sql<{ id: string }>`select pg_export_snapshot() as id`.execute(trx)
  return r.rows[0]!.id
}

/**
 * The text of every sealed value of the store (settings, gateway and bank secrets): the backup
 * check reads the master key ids their envelopes name.
 */
export async function sealedTexts(db: Kysely<Database>): Promise<string[]> {
  // A store older than a column's migration lacks that table: nothing sealed there.
  const read = (q: Promise<{ rows: { t: string }[] }>) => q.then((r) => r.rows).catch(() => [])
  const rows = [
    ...(await read(sql<{ t: string }>`select value as t from settings`.execute(db))),
    ...(await read(sql<{ t: string }>`select secrets as t from gateway_configs`.execute(db))),
    ...(await read(
      sql<{ t: string }>`select bank_secrets as t from settlement_accounts`.execute(db),
    )),
  ]
  return rows.map((r) => String(r.t ?? ''))
}
