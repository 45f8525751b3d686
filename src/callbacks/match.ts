import type { Kysely } from 'kysely'
import type { DshError } from '../core/errors.js'
import type {
  GatewayAdapter,
  GatewayOutcome,
  ParsedCallback,
} from '../core/payments/gateway-port.js'
import { receiptProblem, shownReceipt, withCheckedReceipt } from '../core/payments/receipt.js'
import { isFinal, type PaymentStatus } from '../core/payments/states.js'
import type { BranchGateway } from '../gateway-config/in-force.js'
import type { C2BConfirmation } from '../gateways/daraja/callback.js'
import {
  type AttemptRow,
  findAttempt,
  findAttemptByRef,
  findPayment,
  findUnreferencedMpesaAttempts,
  type PaymentRow,
} from '../payments/records.js'
import type { Database } from '../store/schema.js'
import type { BranchWithTenant } from '../tenants/branches.js'
import { looseRef } from './inbox.js'
import type { InboxRow } from './inbox-store.js'

/** What processing an inbox entry comes to; `record` in callbacks.ts carries it out. */
export type Decision =
  | {
      kind: 'apply'
      payment: PaymentRow
      attemptId: string | null
      branch: BranchWithTenant
      gw: BranchGateway
      outcome: GatewayOutcome
      receipt?: string | undefined
      /** The callback's receipt failed the check: applied without it, the entry goes to review. */
      receiptRefused?: string | undefined
      reason: string
      log?: { request: unknown; response: unknown; latencyMs: number } | undefined
    }
  | { kind: 'review'; payment: PaymentRow; branch: BranchWithTenant; reason: string }
  | {
      kind: 'c2b'
      branch: BranchWithTenant
      gw: BranchGateway
      c2b: C2BConfirmation
      amountMinor: bigint
    }
  | {
      kind: 'final'
      status: 'applied' | 'ignored' | 'rejected' | 'invalid' | 'review'
      note: string
      paymentId?: string | undefined
    }
  | { kind: 'unmatched'; note: string }
  | { kind: 'retry'; error: string }

/**
 * Processes one inbox entry after it was acknowledged: claims it (so no other worker does it at
 * the same time), decides what it means, and records the outcome. A payment only ever changes in
 * one transaction with the entry's final status, under both rows' locks, so an entry processed
 * twice (a crash, a replay) changes the payment at most once.
 */

export async function matchPayment(
  db: Kysely<Database>,
  gateway: string,
  parsed: ParsedCallback,
  branchId?: string,
  nowMs: number = Date.now(),
): Promise<{ attempt: AttemptRow; payment: PaymentRow } | undefined> {
  let attempt = parsed.gatewayRef
    ? await findAttemptByRef(db, gateway, parsed.gatewayRef)
    : undefined
  if (!attempt && parsed.attemptRef) {
    const byRef = await findAttempt(db, parsed.attemptRef)
    if (byRef?.gateway === gateway) attempt = byRef
  }
  if (!attempt && gateway === 'mpesa' && branchId)
    attempt = await matchUnreferenced(db, branchId, parsed, nowMs)
  if (!attempt) return undefined
  const payment = await findPayment(db, attempt.payment_id)
  return payment ? { attempt, payment } : undefined
}

/**
 * Daraja echoes nothing of ours, so a push whose answer timed out has no CheckoutRequestID to
 * match. Its callback names the phone and amount: while an M-Pesa payment is unknown, dsh refuses
 * a second push to the same phone for the same amount, so at most one such attempt can wait.
 * Exactly one candidate (in the last 24 h) is a match, which the `verify` policy still confirms
 * by an STK query with the callback's CheckoutRequestID; anything else stays unmatched.
 */
async function matchUnreferenced(
  db: Kysely<Database>,
  branchId: string,
  parsed: ParsedCallback,
  nowMs: number,
): Promise<AttemptRow | undefined> {
  if (!parsed.payer || parsed.amountMinor === undefined || !parsed.gatewayRef) return undefined
  const since = new Date(nowMs - 24 * 3600_000).toISOString()
  const payer = parsed.payer
  const candidates = (
    await findUnreferencedMpesaAttempts(db, branchId, parsed.amountMinor, since)
  ).filter((a) => a.payment_phone !== null && samePhone(payer, a.payment_phone))
  return candidates.length === 1 ? candidates[0] : undefined
}

/**
 * The inbox keeps callbacks with phone numbers masked (254******675): such a number matches a
 * stored one of the same length with the same visible digits. Uniqueness, checked above, and the
 * confirming STK query make up for what the mask hides.
 */
function samePhone(given: string, stored: string): boolean {
  if (!given.includes('*')) return given === stored
  if (given.length !== stored.length) return false
  return [...given].every((c, i) => c === '*' || c === stored[i])
}

/** Amount and currency must be the payment's: anything else is for a human, never a success. */
function mismatches(parsed: ParsedCallback, p: PaymentRow): string[] {
  const out: string[] = []
  if (parsed.currency !== undefined && parsed.currency !== p.currency)
    out.push(`currency ${parsed.currency} ≠ ${p.currency}`)
  if (parsed.amountMinor !== undefined && parsed.amountMinor !== BigInt(p.amount_minor))
    out.push(`amount ${parsed.amountMinor} ≠ ${BigInt(p.amount_minor)} minor units`)
  return out
}

export async function decideForPayment(
  e: InboxRow,
  branch: BranchWithTenant,
  gw: BranchGateway,
  adapter: GatewayAdapter,
  parsed: ParsedCallback,
  attempt: AttemptRow,
  payment: PaymentRow,
): Promise<Decision> {
  const problems = mismatches(parsed, payment)
  if (problems.length > 0)
    return {
      kind: 'review',
      payment,
      branch,
      reason: `${gw.type} callback does not match the payment: ${problems.join('; ')}`,
    }
  const o = parsed.outcome
  if (o.status === 'pending')
    return {
      kind: 'final',
      status: 'ignored',
      note: 'the callback reports the payment as still pending',
      paymentId: payment.id,
    }
  // Daraja and KCB sign nothing: their callbacks are hints, confirmed by a query (`verify`).
  const hint = e.gateway === 'mpesa' || e.gateway === 'mpesa-kcb'
  const policy = hint ? (gw.settings['callbackPolicy'] ?? 'verify') : 'signed'
  const given = o.status === 'succeeded' ? o.refs.receiptNumber : undefined
  const problem = given === undefined ? null : receiptProblem(gw.type, given)
  // A receipt that fails the check is never written, but the confirmation is not lost: the
  // payment still moves on the callback (and query), and the entry goes to review.
  const receipt = problem ? undefined : given
  const receiptRefused =
    problem && given !== undefined
      ? `receipt ${shownReceipt(given)} refused (${problem}); not written to the payment`
      : undefined
  const what = `${gw.type} callback ${o.code ? `(${o.code}) ` : ''}${o.message}`
  const apply = (outcome: GatewayOutcome, reason: string) =>
    ({
      kind: 'apply',
      payment,
      attemptId: attempt.id,
      branch,
      gw,
      outcome: withCheckedReceipt(gw.type, outcome),
      receipt,
      receiptRefused,
      reason,
    }) as const
  if (policy !== 'verify' || isFinal(payment.status as PaymentStatus)) {
    if (o.status === 'failed' && o.kind === 'unknown')
      return {
        kind: 'final',
        status: 'ignored',
        note: `${what}: an unrecognised result, left to the recovery queries`,
        paymentId: payment.id,
      }
    return apply(o, `${what}${policy === 'trust' ? ' (callback policy trust)' : ''}`)
  }
  const q = await adapter.query(attempt.id, {
    gatewayRef: attempt.gateway_ref ?? parsed.gatewayRef,
    secondaryRef: attempt.secondary_ref ?? undefined,
  })
  const qo = q.outcome
  if (qo.status === 'pending')
    return { kind: 'retry', error: `the confirming query still says pending: ${qo.message}` }
  if (qo.status === 'failed' && qo.kind !== 'declined')
    return { kind: 'retry', error: `the confirming query did not get an answer: ${qo.message}` }
  if (o.status === 'succeeded' && qo.status === 'failed')
    return {
      kind: 'review',
      payment,
      branch,
      reason: `the ${gw.type} callback says paid but the confirming query says ${qo.message} (${qo.code})`,
    }
  return { ...apply(qo, `${what}; confirmed by query: ${qo.message}`), log: q.log }
}

export async function unknownShape(
  db: Kysely<Database>,
  e: InboxRow,
  branch: BranchWithTenant,
  body: unknown,
  err: DshError,
): Promise<Decision> {
  if (err.code === 'unsupported_event')
    return { kind: 'final', status: 'ignored', note: err.message }
  const ref = looseRef(e.gateway, body) ?? e.gateway_ref ?? undefined
  const attempt = ref ? await findAttemptByRef(db, e.gateway, ref) : undefined
  const payment = attempt ? await findPayment(db, attempt.payment_id) : undefined
  if (payment && payment.branch_id === branch.id)
    return {
      kind: 'review',
      payment,
      branch,
      reason: `unrecognised ${e.gateway} callback: ${err.message}`,
    }
  return {
    kind: 'final',
    status: 'invalid',
    note: `unrecognised ${e.gateway} callback (${err.message}); no payment of ${branch.code} to review`,
  }
}
