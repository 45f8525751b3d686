import { type Kysely, sql } from 'kysely'

// Frozen once shipped. The daemon: API tokens, the durable callback inbox, the append-only
// events table behind live streams, and one row per scheduled job tick.
export async function up(db: Kysely<any>): Promise<void> {
  // Bearer tokens: only the SHA-256 of the token is stored; it is shown once, when created.
  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.references('tenants.id'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('token_prefix', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .addColumn('last_used_at', 'text')
    .execute()
  // A name is unique among live tokens; a revoked token's name may be used again.
  await db.schema
    .createIndex('api_tokens_name_live_uq')
    .on('api_tokens')
    .column('name')
    .unique()
    .where(sql.ref('revoked_at'), 'is', null)
    .execute()

  // Every verified callback, committed before it is acknowledged. dedupe_key is the gateway and
  // its natural id (CheckoutRequestID, TransID, event id), so a repeat is counted, not stored.
  await db.schema
    .createTable('callback_inbox')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('dedupe_key', 'text', (c) => c.notNull().unique())
    .addColumn('gateway', 'text', (c) => c.notNull())
    .addColumn('branch_id', 'text')
    .addColumn('tenant_id', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('headers', 'text', (c) => c.notNull())
    .addColumn('remote_addr', 'text')
    .addColumn('gateway_ref', 'text')
    .addColumn('duplicates', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_duplicate_at', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'text')
    .addColumn('lease_until', 'text')
    .addColumn('last_error', 'text')
    .addColumn('note', 'text')
    .addColumn('payment_id', 'text')
    .addColumn('processed_at', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('callback_inbox_due_idx')
    .on('callback_inbox')
    .columns(['status', 'next_attempt_at'])
    .execute()
  // Only unmatched entries are looked up by reference (when a payment gets one), and a partial
  // index costs nothing on the insert that acknowledges a callback.
  await db.schema
    .createIndex('callback_inbox_unmatched_ref_idx')
    .on('callback_inbox')
    .columns(['gateway', 'gateway_ref'])
    .where(sql.ref('status'), '=', 'unmatched')
    .execute()

  // Append-only payment changes, numbered from the one counter row below (locked by each append,
  // so numbers follow commit order and a reader never skips a row committed late).
  await db.schema
    .createTable('events')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('branch_id', 'text', (c) => c.notNull())
    .addColumn('payment_id', 'text')
    .addColumn('data', 'text', (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('events_tenant_idx')
    .on('events')
    .columns(['tenant_id', 'seq'])
    .execute()
  await db.schema
    .createTable('event_head')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .execute()
  await db.insertInto('event_head').values({ id: 1, seq: 0 }).execute()

  // One row per (job, tick): the daemon that inserts it runs the tick; the others skip it.
  await db.schema
    .createTable('job_ticks')
    .addColumn('job', 'text', (c) => c.notNull())
    .addColumn('tick', 'text', (c) => c.notNull())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .addColumn('outcome', 'text')
    .addPrimaryKeyConstraint('job_ticks_pk', ['job', 'tick'])
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['job_ticks', 'event_head', 'events', 'callback_inbox', 'api_tokens']) {
    await db.schema.dropTable(t).execute()
  }
}
