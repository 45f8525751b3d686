import type { Ctx } from '../context.js'
import { redactForAudit } from '../core/audit/redact.js'
import { DshError } from '../core/errors.js'
import { admit, closedBreaker, record } from '../core/payments/breaker.js'
import type {
  GatewayCallResult,
  GatewayOutcome,
  InitiateRequest,
} from '../core/payments/gateway-port.js'
import { withCheckedReceipt } from '../core/payments/receipt.js'
import type { PaymentStatus } from '../core/payments/states.js'
import { adapterFor } from '../gateway-config/adapters.js'
import { type BranchGateway, breakerSettings } from '../gateway-config/in-force.js'
import type { Store } from '../store/connect.js'
import type { BranchWithTenant } from '../tenants/branches.js'
import { readBreaker, writeBreaker } from './breakers-store.js'
import {
  findAttempt,
  findPaymentForUpdate,
  insertAttempt,
  type PaymentRow,
  updateAttempt,
} from './payments-store.js'
import { type TransitionContext, transition } from './transition.js'

export const transitionContext = (
  branch: BranchWithTenant,
  gw?: BranchGateway,
): TransitionContext => ({
  branchCode: branch.code,
  branchCurrency: branch.currency,
  branchTimezone: branch.timezone,
  tenantSlug: branch.tenant_slug,
  fees: gw?.fees,
})

/** The payment state an outcome leads to. */
export function statusFor(o: GatewayOutcome): PaymentStatus {
  if (o.status === 'pending') return 'pending'
  if (o.status === 'succeeded') return 'succeeded'
  if (o.kind === 'unknown') return 'unknown'
  return o.cancelled ? 'cancelled' : 'failed'
}

export type AttemptResult =
  | { kind: 'done'; payment: PaymentRow; outcome: GatewayOutcome }
  | { kind: 'skipped'; reason: string }
  | { kind: 'not_attempted'; payment: PaymentRow; outcome: GatewayOutcome }

/** Lets one call through the branch × gateway breaker, taking the half-open probe atomically. */
async function admitThroughBreaker(
  ctx: Ctx,
  store: Store,
  branchId: string,
  gw: BranchGateway,
): Promise<{ allowed: boolean; retryAtMs?: number }> {
  const settings = breakerSettings(gw)
  const nowMs = ctx.clock.now().getTime()
  const current = await readBreaker(store.db, branchId, gw.type)
  if (!current || current.state === 'closed') return { allowed: true }
  return store.write(async (trx) => {
    const b = (await readBreaker(trx, branchId, gw.type, true)) ?? closedBreaker()
    const a = admit(b, nowMs, settings)
    if (!a.allowed) return { allowed: false, retryAtMs: a.retryAtMs }
    if (a.probe) await writeBreaker(trx, branchId, gw.type, a.next, new Date(nowMs).toISOString())
    return { allowed: true }
  })
}

/**
 * One attempt at one gateway: the attempt row (with our reference) is committed as `sending`
 * before the call, so a crash never leads to a second charge; then the outcome, the breaker and
 * the payment move together in one transaction.
 */
export async function runAttempt(
  ctx: Ctx,
  store: Store,
  branch: BranchWithTenant,
  paymentId: string,
  seq: number,
  gw: BranchGateway,
  request: Omit<InitiateRequest, 'attemptRef'>,
): Promise<AttemptResult> {
  const admission = await admitThroughBreaker(ctx, store, branch.id, gw)
  const attemptId = ctx.ids.next('att')
  const now = () => ctx.clock.now().toISOString()
  const attemptRow = (status: string) => ({
    id: attemptId,
    payment_id: paymentId,
    seq,
    gateway: gw.type,
    gateway_config_id: gw.row.id,
    status,
    created_at: now(),
    updated_at: now(),
  })
  if (!admission.allowed) {
    const at = new Date(admission.retryAtMs ?? 0).toISOString()
    await insertAttempt(store.db, {
      ...attemptRow('failed'),
      failure_kind: 'not_attempted',
      code: 'breaker_open',
      message: `circuit breaker open until ${at}`,
    })
    return { kind: 'skipped', reason: `${gw.type}: circuit breaker open until ${at}` }
  }
  // Open the credentials first: a vault problem must not leave a `sending` attempt behind.
  const adapter = await adapterFor(ctx, gw)
  await insertAttempt(store.db, attemptRow('sending'))
  let result: GatewayCallResult
  try {
    result = await adapter.initiate({ ...request, attemptRef: attemptId })
  } catch (err) {
    // An adapter refusing our own input (e.g. an amount it cannot send) never reached the gateway.
    if (err instanceof DshError && err.kind === 'validation') {
      result = {
        outcome: {
          status: 'failed',
          kind: 'not_attempted',
          gatewayFault: false,
          refs: {},
          code: err.code,
          message: err.message,
        },
        log: { request: null, response: null, latencyMs: 0 },
      }
    } else throw err
  }
  return applyAttemptResult(ctx, store, branch, paymentId, attemptId, gw, result, true)
}

/** Writes an attempt's outcome and moves the payment; `countsForBreaker` for live calls only. */
export async function applyAttemptResult(
  ctx: Ctx,
  store: Store,
  branch: BranchWithTenant,
  paymentId: string,
  attemptId: string,
  gw: BranchGateway,
  result: GatewayCallResult,
  countsForBreaker: boolean,
): Promise<AttemptResult> {
  // A receipt that fails the check (src/core/payments/receipt.ts) is never written.
  const o = withCheckedReceipt(gw.type, result.outcome)
  const nowIso = ctx.clock.now().toISOString()
  return store.write(async (trx) => {
    // The payment's row lock first, as applyOutcomeLocked takes it: a callback, the recovery job
    // and `payments sync` moving one payment at once then queue on one lock instead of each
    // holding one row the other wants (a deadlock on PostgreSQL).
    const p = await findPaymentForUpdate(trx, paymentId)
    if (!p) throw new DshError('internal', 'payment_vanished', `payment ${paymentId} disappeared`)
    const before = await findAttempt(trx, attemptId)
    const logs = {
      request: JSON.stringify(redactForAudit(result.log.request)),
      response: JSON.stringify(redactForAudit(result.log.response)),
      latency_ms: Math.round(result.log.latencyMs),
      updated_at: nowIso,
    }
    // A callback may have settled the attempt while our call was still waiting: a late
    // timeout never undoes what the gateway already told us.
    if (
      before &&
      (before.status === 'succeeded' || before.status === 'failed') &&
      o.status !== 'succeeded'
    ) {
      await updateAttempt(trx, attemptId, logs)
    } else {
      await updateAttempt(trx, attemptId, {
        ...logs,
        status: o.status === 'failed' ? (o.kind === 'unknown' ? 'unknown' : 'failed') : o.status,
        failure_kind: o.status === 'failed' ? o.kind : null,
        code: o.code,
        message: o.message,
        gateway_ref: o.refs.gatewayRef ?? before?.gateway_ref ?? null,
        secondary_ref: o.refs.secondaryRef ?? before?.secondary_ref ?? null,
        receipt_number: o.refs.receiptNumber ?? before?.receipt_number ?? null,
      })
    }
    if (countsForBreaker) {
      const settings = breakerSettings(gw)
      const fault = o.status === 'failed' && o.gatewayFault
      const b = (await readBreaker(trx, branch.id, gw.type, true)) ?? closedBreaker()
      const next = record(b, fault, ctx.clock.now().getTime(), settings)
      if (next.state !== b.state || next.consecutiveFaults !== b.consecutiveFaults)
        await writeBreaker(trx, branch.id, gw.type, next, nowIso)
    }
    if (o.status === 'failed' && o.kind === 'not_attempted')
      return { kind: 'not_attempted' as const, payment: p, outcome: o }
    const to = statusFor(o)
    const reason = `${gw.type}: ${o.message}${o.code ? ` (${o.code})` : ''}`
    const extra = {
      gateway: gw.type,
      gateway_ref: o.refs.gatewayRef ?? p.gateway_ref,
      receipt_number: o.refs.receiptNumber ?? p.receipt_number,
      failure_code: o.status === 'failed' ? o.code : null,
      failure_message: o.status === 'failed' ? o.message : null,
      next_check_at:
        to === 'pending' || to === 'unknown'
          ? new Date(ctx.clock.now().getTime() + 30_000).toISOString()
          : null,
    }
    const moved = await transition(ctx, trx, p, to, reason, transitionContext(branch, gw), extra)
    return { kind: 'done' as const, payment: moved ?? p, outcome: o }
  })
}
