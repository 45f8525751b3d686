import type { Kysely } from 'kysely'

// Frozen once shipped. Indexes for the lists that page newest first (issue 16): each list reads
// its page in index order and stops at the limit instead of sorting every matching row, and the
// keyset cursor (created_at, id) / (received_at, id) seeks straight to the next page.
// test/store/query-plans.test.ts checks the plans of the hot paths on both dialects.
// Filters of few distinct values (a payment's or a callback's gateway) walk the time index and
// filter; branch and status have their own, as a rare status would otherwise walk the table
// (the inbox's by status is migration 0013's callback_inbox_status_received_idx).
const INDEXES: [name: string, table: string, columns: string[]][] = [
  ['payments_created_idx', 'payments', ['created_at', 'id']],
  ['payments_status_created_idx', 'payments', ['status', 'created_at', 'id']],
  ['callback_inbox_received_idx', 'callback_inbox', ['received_at', 'id']],
  ['callback_inbox_branch_received_idx', 'callback_inbox', ['branch_id', 'received_at', 'id']],
]

export async function up(db: Kysely<any>): Promise<void> {
  for (const [name, table, columns] of INDEXES)
    await db.schema.createIndex(name).on(table).columns(columns).execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const [name] of [...INDEXES].reverse()) await db.schema.dropIndex(name).execute()
}
