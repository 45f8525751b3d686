import type { Ctx } from '../context.js'
import { DshError, notFound } from '../core/errors.js'
import { isFinal, type PaymentStatus } from '../core/payments/states.js'
import { adapterFor } from '../gateway-config/adapters.js'
import { branchGateways } from '../gateway-config/in-force.js'
import { findBranchById } from '../tenants/branches.js'
import { applyAttemptResult } from './attempt.js'
import {
  duePayments,
  findPayment,
  listAttempts,
  type PaymentRow,
  updatePayment,
} from './payments-store.js'
import { type PaymentView, paymentView } from './view.js'

/**
 * Asks the gateway about an open payment and applies a definite answer. A query that fails
 * (timeout, no reference to ask with) changes nothing but the check count: a pending payment
 * never becomes unknown because the question could not be asked.
 */
export async function syncPayment(ctx: Ctx, id: string): Promise<PaymentRow> {
  const store = await ctx.store()
  const p = await findPayment(store.db, id)
  if (!p) throw notFound('payment_not_found', `no payment "${id}"`, 'see `dsh payments list`')
  if (isFinal(p.status as PaymentStatus) || p.status === 'needs_review') return p
  // The attempt to ask about: the latest still open one. A `sending` attempt (the process died
  // mid-call) is looked up by our reference, never re-sent.
  const attempts = await listAttempts(store.db, p.id)
  const attempt = [...attempts]
    .reverse()
    .find((a) => ['pending', 'unknown', 'sending'].includes(a.status))
  if (!attempt) return p
  const branch = await findBranchById(store.db, p.branch_id)
  if (!branch)
    throw new DshError('internal', 'branch_missing', `the branch of payment ${p.id} is missing`)
  const gw = (await branchGateways(store.db, branch)).find((g) => g.type === attempt.gateway)
  if (!gw)
    throw notFound(
      'gateway_not_configured',
      `branch ${branch.code} no longer has a ${attempt.gateway} configuration to ask about ${p.id}`,
    )
  const adapter = await adapterFor(ctx, gw)
  const result = await adapter.query(attempt.id, {
    gatewayRef: attempt.gateway_ref ?? undefined,
    secondaryRef: attempt.secondary_ref ?? undefined,
  })
  const o = result.outcome
  if (o.status === 'failed' && o.kind !== 'declined') {
    const now = ctx.clock.now()
    await updatePayment(store.db, p.id, {
      check_count: p.check_count + 1,
      updated_at: now.toISOString(),
    })
    return (await findPayment(store.db, p.id)) ?? p
  }
  const r = await applyAttemptResult(ctx, store, branch, p.id, attempt.id, gw, result, false)
  return r.kind === 'skipped' ? p : r.payment
}

/** `payments sync --stale`: every open payment whose next check is due, oldest first. */
export async function syncStale(ctx: Ctx, limit = 500): Promise<PaymentView[]> {
  const store = await ctx.store()
  const due = await duePayments(store.db, ctx.clock.now().toISOString(), limit)
  const out: PaymentView[] = []
  for (const p of due) {
    const branch = await findBranchById(store.db, p.branch_id)
    const synced = await syncPayment(ctx, p.id)
    out.push(paymentView(synced, branch?.code ?? p.branch_id))
  }
  return out
}
