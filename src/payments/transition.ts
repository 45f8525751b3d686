import type { Kysely, Updateable } from 'kysely'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import type { FeeStructure } from '../core/gateways/fees.js'
import { canMove, isFinal, type PaymentStatus } from '../core/payments/states.js'
import { maskMsisdn } from '../core/phone.js'
import type { Database, PaymentsTable } from '../store/schema.js'
import { appendEvent } from './events.js'
import { feeColumns, feeDay } from './fees.js'
import {
  findPaymentForUpdate,
  insertPaymentEvent,
  type PaymentRow,
  updatePayment,
} from './payments-store.js'

export interface TransitionContext {
  branchCode: string
  branchCurrency: string
  /** The day in this zone picks the rate that converts a flat fee (default Africa/Nairobi). */
  branchTimezone?: string | undefined
  tenantSlug: string
  /** The fee structure in force, recorded when the payment succeeds. */
  fees?: FeeStructure | undefined
  actor?: string | undefined
}

/**
 * The one place a payment changes state: checks the move is legal (a late failure never
 * overrides a success), records fees on success, appends the timeline event and the audit row,
 * all in the caller's transaction. Returns the updated row, or null when the move was refused.
 */
export async function transition(
  ctx: Ctx,
  trx: Kysely<Database>,
  p: PaymentRow,
  to: PaymentStatus,
  reason: string,
  move: TransitionContext,
  extra: Updateable<PaymentsTable> = {},
): Promise<PaymentRow | null> {
  // Judge the move on the row as it is now, locked: another process (the daemon, a sync) may
  // have moved it since the caller read it.
  p = (await findPaymentForUpdate(trx, p.id)) ?? p
  const from = p.status as PaymentStatus
  if (!canMove(from, to)) return null
  const now = ctx.clock.now().toISOString()
  const changes: Updateable<PaymentsTable> = { ...extra, status: to, updated_at: now }
  if (isFinal(to) || to === 'needs_review') {
    changes.completed_at = isFinal(to) ? now : null
    changes.next_check_at = null
  }
  if (to === 'succeeded' && move.fees) {
    const { fee: _fee, ...columns } = await feeColumns(
      trx,
      p,
      move.branchCurrency,
      move.fees,
      feeDay(move.branchTimezone, ctx.clock.now()),
    )
    Object.assign(changes, columns)
  }
  if (from === to && Object.keys(extra).length === 0) return p
  await updatePayment(trx, p.id, changes)
  if (from !== to) {
    await insertPaymentEvent(trx, {
      id: ctx.ids.next('pe'),
      payment_id: p.id,
      at: now,
      from_status: from,
      to_status: to,
      actor: move.actor ?? ctx.actor,
      reason,
    })
    await audit(ctx, trx, {
      action: `payment.${to}`,
      tenant: move.tenantSlug,
      branch: move.branchCode,
      target: p.id,
      request: {
        from,
        reason,
        amount: p.amount_minor.toString(),
        currency: p.currency,
        gateway: extra.gateway ?? p.gateway,
        phone: p.phone ? maskMsisdn(p.phone) : null,
        receipt: extra.receipt_number ?? p.receipt_number,
      },
    })
    await appendEvent(trx, { at: now, payment: p, changes, from, to, reason, ctx: move })
  }
  return { ...p, ...(changes as Partial<PaymentRow>) }
}
