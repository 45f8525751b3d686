import { type Kysely, sql } from 'kysely'
import type { Database } from '../store/schema.js'

/**
 * Unsettled succeeded payments whose fee left out a flat part for want of a rate, oldest first
 * (a settlement run fills the part once a rate for the day exists; a settled one is history).
 */
export const listFeesWithoutRate = (db: Kysely<Database>) =>
  db
    .selectFrom('payments')
    .innerJoin('branches', 'branches.id', 'payments.branch_id')
    .select([
      'payments.id',
      'branches.code as branch',
      'payments.currency',
      'payments.amount_minor',
      'payments.fee_flat_source_minor',
      'payments.fee_flat_source_currency',
      'payments.fee_fx_as_of',
    ])
    .select('payments.status')
    // The partial index payments_fee_without_rate's own predicate, literally (no bound values),
    // so both stores read those few rows only; the status is checked by the caller.
    .where(
      sql<boolean>`payments.fee_fx_rate is null and payments.fee_flat_source_minor > 0 and payments.settlement_status = 'unsettled'`,
    )
    .orderBy('payments.completed_at')
    .orderBy('payments.id')
    .limit(1000)
    .execute()
