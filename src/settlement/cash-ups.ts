import type { Kysely } from 'kysely'
import type { Ctx } from '../context.js'
import type { Database } from '../store/schema.js'
import {
  type AccountWithBranch,
  type BatchRow,
  listBatches,
  releaseItems,
  updateBatch,
} from './batches-store.js'
import { auditBatch, NOTHING_SENT } from './transfer.js'
import { CASH_DEPOSIT, CASH_GATEWAY, cashUpFigures, depositReferenceOf, TRANSFER } from './view.js'

/**
 * Cash-ups: cash is banked by the branch, never transferred. A run makes, per branch, currency
 * and period, a cash-up (a settlement_batches row of kind `cash_deposit`) that expects Σ the cash
 * payments on the branch's bank statement, with the `CASH-…` reference the manager writes on the
 * deposit slip. Nothing is sent: no outbox file, no bank API call, no collection account.
 */

/** Why a pending cash transfer made before cash-ups existed is cancelled. */
export const CASH_IS_BANKED = 'cash is banked'

export const isCashUp = (b: Pick<BatchRow, 'kind'>) => b.kind === CASH_DEPOSIT

/** A cash transfer batch from before cash-ups: history when completed, never to be sent. */
export const isLegacyCashTransfer = (b: Pick<BatchRow, 'kind' | 'gateway'>) =>
  b.kind === TRANSFER && b.gateway === CASH_GATEWAY

/** A new cash-up awaiting its deposit, with the figures of its members. */
export function cashUpRow(
  fields: Pick<
    BatchRow,
    'tenant_id' | 'branch_id' | 'account_id' | 'currency' | 'period_start' | 'period_end'
  >,
  t: { count: number; gross: bigint },
  id: string,
  at: string,
): BatchRow {
  return {
    ...fields,
    ...cashUpFigures(t),
    id,
    kind: CASH_DEPOSIT,
    reference: depositReferenceOf(id),
    gateway: CASH_GATEWAY,
    status: 'awaiting_deposit',
    ...NOTHING_SENT,
    retry_of: null,
    send_owner: null,
    send_until: null,
    created_at: at,
    updated_at: at,
    completed_at: null,
  }
}

/**
 * Cancels the account's pending cash transfers made before cash-ups existed (reason `cash is
 * banked`, audited), in the run's transaction: their payments are released, so the same run puts
 * them into a cash-up. A processing one (files written or a bank call made) is left to a person
 * (`dsh doctor` reports it). Returns the ids cancelled.
 */
export async function retireLegacyCash(
  ctx: Ctx,
  trx: Kysely<Database>,
  account: AccountWithBranch,
  at: string,
): Promise<string[]> {
  const pending = await listBatches(trx, {
    accountIds: [account.id],
    status: 'pending',
    kind: TRANSFER,
    gateway: CASH_GATEWAY,
  })
  for (const b of pending) {
    await updateBatch(trx, b.id, {
      status: 'cancelled',
      failure_reason: CASH_IS_BANKED,
      send_owner: null,
      send_until: null,
      updated_at: at,
    })
    await releaseItems(trx, b.id, at)
    await auditBatch(ctx, trx, 'settlement.cancel', account, b, {
      from: b.status,
      reason: CASH_IS_BANKED,
    })
  }
  return pending.map((b) => b.id)
}
