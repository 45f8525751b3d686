import { type Kysely, sql } from 'kysely'

// Frozen once shipped. Settlement: batches, their members, the runs the scheduler has done, the
// transfer adapter of each settlement account, and the tenants' collection accounts.
export async function up(db: Kysely<any>): Promise<void> {
  // One batch per (branch, gateway, currency, period) while it is live; a failed or cancelled
  // batch leaves the slot free for the payments it released.
  await db.schema
    .createTable('settlement_batches')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('reference', 'text', (c) => c.notNull().unique())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('branch_id', 'text', (c) => c.notNull().references('branches.id'))
    .addColumn('account_id', 'text', (c) => c.notNull().references('settlement_accounts.id'))
    .addColumn('gateway', 'text', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('period_start', 'text')
    .addColumn('period_end', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('payment_count', 'integer', (c) => c.notNull())
    .addColumn('gross_minor', 'bigint', (c) => c.notNull())
    .addColumn('transaction_fees_minor', 'bigint', (c) => c.notNull())
    .addColumn('conversion_fees_minor', 'bigint', (c) => c.notNull())
    .addColumn('settlement_fee_minor', 'bigint', (c) => c.notNull())
    .addColumn('fees_minor', 'bigint', (c) => c.notNull())
    .addColumn('net_minor', 'bigint', (c) => c.notNull())
    .addColumn('transfer_adapter', 'text')
    .addColumn('transfer_id', 'text')
    .addColumn('transfer_files', 'text')
    .addColumn('sent_at', 'text')
    .addColumn('bank_ref', 'text')
    .addColumn('bank_amount_minor', 'bigint')
    .addColumn('failure_reason', 'text')
    .addColumn('retry_of', 'text')
    // Who is sending the transfer (host:pid) and until when: a concurrent run leaves it alone,
    // a run after the sender died (same host, pid gone) or after the lease takes it over.
    .addColumn('send_owner', 'text')
    .addColumn('send_until', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('completed_at', 'text')
    .execute()
  await db.schema
    .createIndex('settlement_batches_live_uq')
    .on('settlement_batches')
    .columns(['branch_id', 'gateway', 'currency', 'period_end'])
    .unique()
    .where(sql.ref('status'), 'not in', sql`('failed', 'cancelled')`)
    .execute()
  await db.schema
    .createIndex('settlement_batches_branch_idx')
    .on('settlement_batches')
    .columns(['branch_id', 'created_at'])
    .execute()
  await db.schema
    .createIndex('settlement_batches_transfer_idx')
    .on('settlement_batches')
    .column('transfer_id')
    .execute()

  // A payment is in at most one live batch: its item is released when the batch fails or is
  // cancelled, and only then may another batch take it.
  await db.schema
    .createTable('settlement_batch_items')
    .addColumn('batch_id', 'text', (c) => c.notNull().references('settlement_batches.id'))
    .addColumn('payment_id', 'text', (c) => c.notNull().references('payments.id'))
    .addColumn('amount_minor', 'bigint', (c) => c.notNull())
    .addColumn('fee_minor', 'bigint', (c) => c.notNull())
    .addColumn('conversion_fee_minor', 'bigint', (c) => c.notNull())
    .addColumn('released_at', 'text')
    .addPrimaryKeyConstraint('settlement_batch_items_pk', ['batch_id', 'payment_id'])
    .execute()
  await db.schema
    .createIndex('settlement_batch_items_live_uq')
    .on('settlement_batch_items')
    .column('payment_id')
    .unique()
    .where(sql.ref('released_at'), 'is', null)
    .execute()

  // Which scheduled periods ran (even when they carried over), for the scheduler's catch-up.
  await db.schema
    .createTable('settlement_runs')
    .addColumn('account_id', 'text', (c) => c.notNull().references('settlement_accounts.id'))
    .addColumn('period_end', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('settlement_runs_pk', ['account_id', 'period_end'])
    .execute()

  // How a settlement account's money goes out: an instruction file, the bank API, or by hand.
  await db.schema
    .alterTable('settlement_accounts')
    .addColumn('transfer', 'text', (c) => c.notNull().defaultTo('file'))
    .execute()
  await db.schema.alterTable('settlement_accounts').addColumn('bank_api_url', 'text').execute()
  // JSON object of field name → vault envelope (the bank API key and webhook secret).
  await db.schema
    .alterTable('settlement_accounts')
    .addColumn('bank_secrets', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute()

  // The tenant's own account per currency, where the gateways pay in: the debtor of transfers.
  await db.schema
    .createTable('collection_accounts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('account_name', 'text', (c) => c.notNull())
    .addColumn('account_number', 'text', (c) => c.notNull())
    .addColumn('bank_name', 'text', (c) => c.notNull())
    .addColumn('bank_code', 'text')
    .addColumn('swift', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('collection_accounts_tenant_currency_uq', ['tenant_id', 'currency'])
    .execute()

  // What a settlement run reads: a branch's succeeded payments not yet settled. Partial, so a
  // payment leaves the index once batched (one B-tree delete) and settled history costs nothing.
  await db.schema
    .createIndex('payments_unsettled_idx')
    .on('payments')
    .columns(['branch_id', 'completed_at'])
    .where(sql<boolean>`settlement_status = 'unsettled' and status = 'succeeded'`)
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('payments_unsettled_idx').execute()
  await db.schema.dropTable('collection_accounts').execute()
  await db.schema.alterTable('settlement_accounts').dropColumn('bank_secrets').execute()
  await db.schema.alterTable('settlement_accounts').dropColumn('bank_api_url').execute()
  await db.schema.alterTable('settlement_accounts').dropColumn('transfer').execute()
  for (const t of ['settlement_runs', 'settlement_batch_items', 'settlement_batches']) {
    await db.schema.dropTable(t).execute()
  }
}
