import { type Kysely, sql } from 'kysely'

// Frozen once shipped. A payment in a currency other than its fee configuration's (a KES card
// payment at an RWF branch) has the flat part of its fee converted with `dsh rates`; the payment
// records what was converted and at which rate. A source without a rate is a fee recorded
// without its flat part (`fee_without_rate`, reported by `dsh doctor` and `dsh health`).

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('payments').addColumn('fee_flat_source_minor', 'bigint').execute()
  await db.schema.alterTable('payments').addColumn('fee_flat_source_currency', 'text').execute()
  await db.schema.alterTable('payments').addColumn('fee_fx_rate', 'text').execute()
  await db.schema.alterTable('payments').addColumn('fee_fx_as_of', 'text').execute()
  // `dsh health` (every minute in the daemon) and `dsh doctor` look for them: a few rows at most.
  await db.schema
    .createIndex('payments_fee_without_rate')
    .on('payments')
    .columns(['completed_at', 'id'])
    .where(
      sql<boolean>`fee_fx_rate is null and fee_flat_source_minor > 0 and settlement_status = 'unsettled'`,
    )
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('payments_fee_without_rate').execute()
  for (const c of [
    'fee_fx_as_of',
    'fee_fx_rate',
    'fee_flat_source_currency',
    'fee_flat_source_minor',
  ])
    await db.schema.alterTable('payments').dropColumn(c).execute()
}
