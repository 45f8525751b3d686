import type { Kysely } from 'kysely'
import type { Ctx } from '../context.js'
import { conflict, notFound } from '../core/errors.js'
import { canMove, type PaymentStatus } from '../core/payments/states.js'
import { branchGateways } from '../gateway-config/in-force.js'
import type { Database } from '../store/schema.js'
import type { BranchWithTenant } from '../tenants/branches.js'
import {
  findPayment,
  listPaymentsCreatedBetween,
  listPaymentsToMatch,
  type PaymentRow,
  paymentDetails,
  setMissingReceipts,
} from './payments-store.js'
import { transition } from './transition.js'

/** What reconciliation reads of a payment. */
export interface ReconPayment {
  id: string
  status: string
  receiptNumber: string | null
  orderId: string | null
  amountMinor: bigint
  currency: string
  phone: string | null
  createdAt: string
  completedAt: string | null
}

const view = (
  r: Pick<
    PaymentRow,
    | 'id'
    | 'status'
    | 'receipt_number'
    | 'order_id'
    | 'amount_minor'
    | 'currency'
    | 'phone'
    | 'created_at'
    | 'completed_at'
  >,
): ReconPayment => ({
  id: r.id,
  status: r.status,
  receiptNumber: r.receipt_number,
  orderId: r.order_id,
  amountMinor: BigInt(r.amount_minor),
  currency: r.currency,
  phone: r.phone,
  createdAt: r.created_at,
  completedAt: r.completed_at,
})

/** A branch's payments through `gateway` created in [from, to). */
export async function paymentsForReconciliation(
  db: Kysely<Database>,
  branchId: string,
  gateway: string,
  fromIso: string,
  toIso: string,
): Promise<ReconPayment[]> {
  return (await listPaymentsCreatedBetween(db, branchId, gateway, fromIso, toIso)).map(view)
}

/**
 * A payment as matching reads it (the matcher's PaymentIn, with the creation time as stored); a
 * report shows more of it (paymentsShown).
 */
export interface MatchPayment {
  id: string
  status: string
  receiptNumber: string | null
  amountMinor: bigint
  currency: string
  phone: string | null
  createdAt: string
  createdAtMs: number
}

/** A branch's payments through `gateway` created in [from, to), to match (in no order). */
export async function paymentsToMatch(
  db: Kysely<Database>,
  branchId: string,
  gateway: string,
  fromIso: string,
  toIso: string,
): Promise<MatchPayment[]> {
  return (await listPaymentsToMatch(db, branchId, gateway, fromIso, toIso)).map((v) => ({
    id: v[0],
    status: v[1],
    receiptNumber: v[2],
    amountMinor: BigInt(v[3]),
    currency: v[4],
    phone: v[5],
    createdAt: v[6],
    createdAtMs: Date.parse(v[6]),
  }))
}

/** The payments with their order id and completion time, by id (for the few a report shows). */
export async function paymentsShown(
  db: Kysely<Database>,
  payments: readonly MatchPayment[],
): Promise<Map<string, ReconPayment>> {
  const byId = new Map(payments.map((p) => [p.id, p]))
  const out = new Map<string, ReconPayment>()
  for (const d of await paymentDetails(db, [...byId.keys()])) {
    const p = byId.get(d.id)
    if (p)
      out.set(d.id, {
        id: p.id,
        status: p.status,
        receiptNumber: p.receiptNumber,
        orderId: d.order_id,
        amountMinor: p.amountMinor,
        currency: p.currency,
        phone: p.phone,
        createdAt: p.createdAt,
        completedAt: d.completed_at,
      })
  }
  return out
}

export async function paymentForReconciliation(
  db: Kysely<Database>,
  id: string,
): Promise<(ReconPayment & { branchId: string; gateway: string | null }) | undefined> {
  const r = await findPayment(db, id)
  return r ? { ...view(r), branchId: r.branch_id, gateway: r.gateway } : undefined
}

/**
 * Records the receipts statement lines show on payments that had none (succeeded by an STK
 * query), in the caller's transaction: a payment that got a receipt meanwhile keeps its own. The
 * status does not change, so there is no timeline event (as transition() does for a same-state
 * change with new fields).
 */
export async function fillReceipts(
  ctx: Ctx,
  trx: Kysely<Database>,
  items: readonly { paymentId: string; receipt: string }[],
): Promise<number> {
  if (items.length === 0) return 0
  return setMissingReceipts(
    trx,
    items.map((i) => ({ id: i.paymentId, receipt: i.receipt })),
    ctx.clock.now().toISOString(),
  )
}

/** A payment dsh lost track of can become succeeded; a final one (exit 5) cannot. */
export function assertAdoptable(p: ReconPayment): void {
  if (p.status === 'succeeded' || !canMove(p.status as PaymentStatus, 'succeeded'))
    throw conflict(
      'cannot_adopt',
      `payment ${p.id} is ${p.status} and cannot become succeeded`,
      p.status === 'succeeded'
        ? 'it already succeeded: confirm the pair instead (`dsh reconcile confirm <line-id> <payment-id>`)'
        : 'a failed or cancelled payment is final: refund the customer or record the money by hand',
    )
}

/**
 * Moves a payment dsh lost track of (pending, unknown, needs_review) to succeeded with the
 * statement's receipt. A failed or cancelled payment cannot move: exit 5.
 */
export async function adoptPayment(
  ctx: Ctx,
  trx: Kysely<Database>,
  branch: BranchWithTenant,
  paymentId: string,
  receipt: string | null,
  reason: string,
): Promise<ReconPayment> {
  const p = await findPayment(trx, paymentId)
  if (!p || p.branch_id !== branch.id)
    throw notFound('payment_not_found', `no payment ${paymentId} in branch ${branch.code}`)
  assertAdoptable(view(p))
  const gw = (await branchGateways(trx, branch)).find((g) => g.type === p.gateway)
  // Loaded here: attempt.js brings the gateway adapters and their HTTP client, which a
  // reconciliation run (the other functions of this file) never needs.
  const { transitionContext } = await import('./attempt.js')
  const moved = await transition(
    ctx,
    trx,
    p,
    'succeeded',
    reason,
    transitionContext(branch, gw),
    receipt && !p.receipt_number ? { receipt_number: receipt } : {},
  )
  if (!moved)
    throw conflict(
      'cannot_adopt',
      `payment ${paymentId} moved meanwhile and cannot become succeeded`,
    )
  return view(moved)
}
