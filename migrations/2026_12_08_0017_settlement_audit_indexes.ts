import type { Kysely } from 'kysely'

// Frozen once shipped. Indexes the query-plan test found missing once it covered the settlement
// tables (issue 24): `dsh settlements list` pages newest first (created_at, id), with a status
// (the settlement run's own "pending batches of these accounts" reads the pending ones only);
// `dsh settlements show` reads a batch's audit rows by target, in chain order.
const INDEXES: [name: string, table: string, columns: string[]][] = [
  ['settlement_batches_created_idx', 'settlement_batches', ['created_at', 'id']],
  ['settlement_batches_status_created_idx', 'settlement_batches', ['status', 'created_at', 'id']],
  ['audit_log_target_idx', 'audit_log', ['target', 'seq']],
]

export async function up(db: Kysely<any>): Promise<void> {
  for (const [name, table, columns] of INDEXES)
    await db.schema.createIndex(name).on(table).columns(columns).execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const [name] of [...INDEXES].reverse()) await db.schema.dropIndex(name).execute()
}
