import type { Kysely } from 'kysely'

// Frozen once shipped. Retention (`dsh prune`, the daemon's daily `prune` job): events are
// removed oldest first by their time, and final inbox entries by status and time received, each
// in small batches read through these indexes (no scan of a table holding millions of rows).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('events_at_idx').on('events').columns(['at', 'seq']).execute()
  await db.schema
    .createIndex('callback_inbox_status_received_idx')
    .on('callback_inbox')
    .columns(['status', 'received_at'])
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('callback_inbox_status_received_idx').execute()
  await db.schema.dropIndex('events_at_idx').execute()
}
