import type { Ctx } from '../context.js'
import { conflict, DshError } from '../core/errors.js'
import { isFinal, type PaymentStatus } from '../core/payments/states.js'
import type { BranchWithTenant } from '../tenants/branches.js'
import type { PayOptions, PayResult } from './pay.js'
import { findPayment, type PaymentRow } from './payments-store.js'
import { syncPayment } from './sync.js'
import { paymentView } from './view.js'

/** A repeated idempotency key: the original payment, or exit 5 for a different request. */
export async function replay(
  ctx: Ctx,
  branch: BranchWithTenant,
  seen: { fingerprint: string; payment_id: string },
  fingerprint: string,
  opts: PayOptions,
): Promise<PayResult> {
  if (seen.fingerprint !== fingerprint) {
    throw conflict(
      'idempotency_conflict',
      'this idempotency key was already used for a different payment request',
      'use a new key for a new payment; repeat the same request to get the original result',
    )
  }
  const store = await ctx.store()
  // A concurrent duplicate waits (up to 10 s) for the first request's result.
  const deadline = Date.now() + 10_000
  let p = await findPayment(store.db, seen.payment_id)
  while (p && p.status === 'created' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100))
    p = await findPayment(store.db, seen.payment_id)
  }
  if (!p)
    throw new DshError(
      'internal',
      'payment_missing',
      `payment ${seen.payment_id} behind the idempotency key is missing`,
    )
  if (p.status === 'created')
    throw conflict(
      'payment_in_progress',
      `payment ${p.id} for this idempotency key is still being sent`,
      'try again in a few seconds',
    )
  if (opts.wait && !isFinal(p.status as PaymentStatus)) p = await waitForFinal(ctx, p.id, opts)
  return { payment: paymentView(p, branch.code), replayed: true, skipped: [] }
}

/** --wait: follows the payment to a final state by querying the gateway until the timeout. */
export async function waitForFinal(ctx: Ctx, id: string, opts: PayOptions): Promise<PaymentRow> {
  const deadline = Date.now() + (opts.timeoutMs ?? 90_000)
  const poll = opts.pollMs ?? 1_000
  for (;;) {
    const p = await syncPayment(ctx, id)
    if (
      isFinal(p.status as PaymentStatus) ||
      p.status === 'needs_review' ||
      Date.now() + poll > deadline
    )
      return p
    await new Promise((r) => setTimeout(r, poll))
  }
}
