import { type Kysely, sql } from 'kysely'

// Frozen once shipped. What a settlement run reads, and only that: a branch's succeeded,
// unsettled, unrefunded payments, with every column the run needs (currency, gateway, cut-off,
// amount, recorded fee and its parts, id), so the totals and the members are read from the index
// alone, never from the payments table. Partial: a payment enters on success and leaves when it is
// batched (or refunded), so settled history costs a run nothing and a rerun reads an empty index.
// It replaces payments_unsettled_idx (branch_id, completed_at), which it covers.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('payments_settle_idx')
    .on('payments')
    .columns([
      'branch_id',
      'currency',
      'gateway',
      'completed_at',
      'amount_minor',
      'fee_minor',
      'fee_rate_bp',
      'fee_flat_minor',
      'id',
    ])
    .where(
      sql<boolean>`settlement_status = 'unsettled' and status = 'succeeded' and refunded_minor = 0`,
    )
    .execute()
  await db.schema.dropIndex('payments_unsettled_idx').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('payments_unsettled_idx')
    .on('payments')
    .columns(['branch_id', 'completed_at'])
    .where(sql<boolean>`settlement_status = 'unsettled' and status = 'succeeded'`)
    .execute()
  await db.schema.dropIndex('payments_settle_idx').execute()
}
