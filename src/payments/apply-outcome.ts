import type { Kysely } from 'kysely'
import type { Ctx } from '../context.js'
import { DshError } from '../core/errors.js'
import type { AttemptLog, GatewayOutcome } from '../core/payments/gateway-port.js'
import { receiptProblem } from '../core/payments/receipt.js'
import { canMove, type PaymentStatus } from '../core/payments/states.js'
import type { BranchGateway } from '../gateway-config/in-force.js'
import type { Database } from '../store/schema.js'
import type { BranchWithTenant } from '../tenants/branches.js'
import { statusFor, transitionContext } from './attempt.js'
import {
  findPaymentForUpdate,
  type PaymentRow,
  updateAttempt,
  updatePayment,
} from './payments-store.js'
import { transition } from './transition.js'

/** Reads a payment inside a write transaction, locking its row on PostgreSQL. */
export async function lockPayment(trx: Kysely<Database>, id: string): Promise<PaymentRow> {
  const p = await findPaymentForUpdate(trx, id)
  if (!p) throw new DshError('internal', 'payment_vanished', `payment ${id} disappeared`)
  return p
}

export type ApplyResult =
  /** The payment moved (from → to); the event and audit row are in the same transaction. */
  | { kind: 'moved'; from: string; to: string; payment: PaymentRow }
  /** It was already there (a replay, or recovery and a callback agreeing). */
  | { kind: 'same'; payment: PaymentRow }
  /** The state machine refused: e.g. a late failure after a success. */
  | { kind: 'refused'; payment: PaymentRow }

export interface ApplyInput {
  paymentId: string
  attemptId: string | null
  branch: BranchWithTenant
  gw: BranchGateway
  /** A definite answer: succeeded, or failed as declined (cancelled included). */
  outcome: GatewayOutcome
  reason: string
  /** The M-Pesa receipt from the callback (a query carries none). */
  receiptNumber?: string | undefined
  /** The confirming query's request/response, kept on the attempt. */
  log?: AttemptLog | undefined
  /** Shown in the payment's timeline (`daemon:callback`, `daemon:recovery`). */
  actor: string
}

/**
 * Applies a gateway's definite answer to a payment, in the caller's write transaction, under the
 * payment's row lock: the attempt, the payment, its timeline event, the audit row and the live
 * event commit together, and two workers (callback and recovery) never both move it.
 */
export async function applyOutcomeLocked(
  ctx: Ctx,
  trx: Kysely<Database>,
  input: ApplyInput,
): Promise<ApplyResult> {
  const p = await lockPayment(trx, input.paymentId)
  const now = ctx.clock.now().toISOString()
  const o = input.outcome
  const to = statusFor(o)
  const given = input.receiptNumber ?? o.refs.receiptNumber
  // Recovery's queries bring receipts too: one that fails the check is never written.
  const receipt = given && !receiptProblem(input.gw.type, given) ? given : undefined
  if (to === 'pending' || to === 'unknown') return { kind: 'same', payment: p }
  if (p.status === to) {
    if (receipt && !p.receipt_number) {
      await updatePayment(trx, p.id, { receipt_number: receipt, updated_at: now })
      if (input.attemptId)
        await updateAttempt(trx, input.attemptId, { receipt_number: receipt, updated_at: now })
      return { kind: 'same', payment: { ...p, receipt_number: receipt } }
    }
    return { kind: 'same', payment: p }
  }
  if (!canMove(p.status as PaymentStatus, to)) return { kind: 'refused', payment: p }
  if (input.attemptId) {
    await updateAttempt(trx, input.attemptId, {
      status: o.status === 'failed' ? 'failed' : o.status,
      failure_kind: o.status === 'failed' ? o.kind : null,
      code: o.code,
      message: o.message,
      // A push whose answer timed out learns its CheckoutRequestID from the callback here.
      ...(o.refs.gatewayRef ? { gateway_ref: o.refs.gatewayRef } : {}),
      ...(receipt ? { receipt_number: receipt } : {}),
      ...(input.log
        ? {
            response: JSON.stringify(input.log.response),
            latency_ms: Math.round(input.log.latencyMs),
          }
        : {}),
      updated_at: now,
    })
  }
  const moved = await transition(
    ctx,
    trx,
    p,
    to,
    input.reason,
    { ...transitionContext(input.branch, input.gw), actor: input.actor },
    {
      gateway: input.gw.type,
      gateway_ref: p.gateway_ref ?? o.refs.gatewayRef ?? null,
      receipt_number: receipt ?? p.receipt_number,
      failure_code: o.status === 'failed' ? o.code : null,
      failure_message: o.status === 'failed' ? o.message : null,
    },
  )
  return moved
    ? { kind: 'moved', from: p.status, to, payment: moved }
    : { kind: 'refused', payment: p }
}

/**
 * Sends a payment to `needs_review` (amount or currency mismatch, an unreadable callback, a
 * schedule that ended without an answer). A final payment is left as it is.
 */
export async function reviewLocked(
  ctx: Ctx,
  trx: Kysely<Database>,
  input: {
    paymentId: string
    branch: BranchWithTenant
    reason: string
    actor: string
  },
): Promise<ApplyResult> {
  const p = await lockPayment(trx, input.paymentId)
  if (p.status === 'needs_review') return { kind: 'same', payment: p }
  if (!canMove(p.status as PaymentStatus, 'needs_review')) return { kind: 'refused', payment: p }
  const moved = await transition(ctx, trx, p, 'needs_review', input.reason, {
    ...transitionContext(input.branch),
    actor: input.actor,
  })
  return moved
    ? { kind: 'moved', from: p.status, to: 'needs_review', payment: moved }
    : { kind: 'refused', payment: p }
}
