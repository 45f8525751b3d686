import type { Kysely } from 'kysely'
import type { Breaker, BreakerState } from '../core/payments/breaker.js'
import { dialectOf } from '../store/connect.js'
import type { Database } from '../store/schema.js'

export async function readBreaker(
  db: Kysely<Database>,
  branchId: string,
  gateway: string,
  lock = false,
): Promise<Breaker | null> {
  let q = db
    .selectFrom('breakers')
    .selectAll()
    .where('branch_id', '=', branchId)
    .where('gateway', '=', gateway)
  if (lock && dialectOf(db) === 'postgres') q = q.forUpdate()
  const row = await q.executeTakeFirst()
  return row
    ? {
        state: row.state as BreakerState,
        consecutiveFaults: row.consecutive_faults,
        changedAtMs: Number(row.changed_at_ms),
      }
    : null
}

export async function writeBreaker(
  db: Kysely<Database>,
  branchId: string,
  gateway: string,
  b: Breaker,
  now: string,
): Promise<void> {
  const values = {
    state: b.state,
    consecutive_faults: b.consecutiveFaults,
    changed_at_ms: b.changedAtMs,
    updated_at: now,
  }
  await db
    .insertInto('breakers')
    .values({ branch_id: branchId, gateway, ...values })
    .onConflict((oc) => oc.columns(['branch_id', 'gateway']).doUpdateSet(values))
    .execute()
}

export const listBreakers = (db: Kysely<Database>, branchId?: string) => {
  let q = db.selectFrom('breakers').selectAll()
  if (branchId) q = q.where('branch_id', '=', branchId)
  return q.orderBy('branch_id').orderBy('gateway').execute()
}
