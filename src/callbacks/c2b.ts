import type { Kysely } from 'kysely'
import type { Ctx } from '../context.js'
import type { ParsedCallback } from '../core/payments/gateway-port.js'
import { receiptProblem, shownReceipt } from '../core/payments/receipt.js'
import { adapterFor } from '../gateway-config/adapters.js'
import { type BranchGateway, branchGateways } from '../gateway-config/in-force.js'
import { accountReferenceFor, parseC2BConfirmation } from '../gateways/index.js'
import { transitionContext } from '../payments/attempt.js'
import { newPaymentRow, recordCreated } from '../payments/create.js'
import {
  type AttemptRow,
  findPayment,
  findPaymentByReceipt,
  insertAttempt,
  listUnreceiptedMpesaAttempts,
  type PaymentRow,
} from '../payments/records.js'
import { transition } from '../payments/transition.js'
import type { Store } from '../store/connect.js'
import type { Database } from '../store/schema.js'
import { type BranchWithTenant, listBranches } from '../tenants/branches.js'
import type { InboxRow } from './inbox-store.js'
import { type Decision, decideForPayment } from './match.js'

const DSH_ACCOUNT_REF = /^[A-Z2-7]{12}$/

/**
 * A C2B confirmation is either the echo of one of our STK pushes (its bill reference is the
 * push's AccountReference, or the payment already carries the receipt) or a payment nobody
 * pushed for: it becomes a payment of the branch owning the shortcode and account reference.
 */
export async function decideC2B(
  ctx: Ctx,
  store: Store,
  e: InboxRow,
  tokenBranch: BranchWithTenant,
  body: unknown,
  parsed: ParsedCallback,
): Promise<Decision> {
  const c2b = parseC2BConfirmation(body)
  if (!c2b || parsed.amountMinor === undefined)
    return { kind: 'final', status: 'invalid', note: 'not a C2B confirmation' }
  const known = await findPaymentByReceipt(store.db, tokenBranch.tenant_id, c2b.transId)
  if (known)
    return {
      kind: 'final',
      status: 'applied',
      note: `payment ${known.id} already carries receipt ${c2b.transId}`,
      paymentId: known.id,
    }
  const owners = await shortcodeOwners(store.db, tokenBranch, c2b.businessShortCode)
  if (owners.length === 0)
    return {
      kind: 'final',
      status: 'review',
      note: `C2B ${c2b.transId}: no branch of this tenant owns shortcode ${c2b.businessShortCode}; no payment recorded`,
    }
  const ref = c2b.billRefNumber.trim().toUpperCase()
  if (DSH_ACCOUNT_REF.test(ref)) {
    const stk = await stkAttemptFor(store.db, owners, ref, ctx.clock.now().getTime())
    if (stk) {
      const owner = owners.find((o) => o.branch.id === stk.payment.branch_id)!
      const adapter = await adapterFor(ctx, owner.gw)
      const asStk: ParsedCallback = {
        ...parsed,
        gatewayRef: stk.attempt.gateway_ref ?? undefined,
      }
      return decideForPayment(e, owner.branch, owner.gw, adapter, asStk, stk.attempt, stk.payment)
    }
  }
  let owner = owners.length === 1 ? owners[0] : undefined
  if (!owner) {
    const byRef = owners.filter((o) => accountNamesBranch(c2b.billRefNumber, o.branch.code))
    owner = byRef.length === 1 ? byRef[0] : undefined
  }
  if (!owner)
    return {
      kind: 'final',
      status: 'review',
      note: `C2B ${c2b.transId} to shared shortcode ${c2b.businessShortCode}: account reference "${c2b.billRefNumber}" names none of ${owners.map((o) => o.branch.code).join(', ')}; no payment recorded`,
    }
  // The receipt is the new payment's only key (a replay finds the payment by it): one that fails
  // the check makes no payment; the confirmation is kept in the inbox for a person to review.
  const problem = receiptProblem('mpesa', c2b.transId)
  if (problem)
    return {
      kind: 'final',
      status: 'review',
      note: `C2B receipt ${shownReceipt(c2b.transId)} refused (${problem}); no payment recorded: check the transaction with Safaricom`,
    }
  return { kind: 'c2b', branch: owner.branch, gw: owner.gw, c2b, amountMinor: parsed.amountMinor }
}

/** "westlands", "WESTLANDS-T12", "westlands 88": the account reference starts with the code. */
const accountNamesBranch = (billRef: string, code: string) => {
  const r = billRef.trim().toLowerCase()
  return r === code || (r.startsWith(code) && /^[^a-z0-9]/.test(r.slice(code.length)))
}

async function shortcodeOwners(
  db: Kysely<Database>,
  tokenBranch: BranchWithTenant,
  shortcode: string,
): Promise<{ branch: BranchWithTenant; gw: BranchGateway }[]> {
  const out: { branch: BranchWithTenant; gw: BranchGateway }[] = []
  for (const b of await listBranches(db, { tenantId: tokenBranch.tenant_id })) {
    const gw = (await branchGateways(db, b)).find((g) => g.type === 'mpesa')
    if (!gw) continue
    const s = gw.settings
    if ([s['shortcode'], s['paybillNumber'], s['tillNumber']].includes(shortcode))
      out.push({ branch: b, gw })
  }
  return out
}

/** The STK push (of the last 7 days, not yet receipted) whose AccountReference is `ref`. */
async function stkAttemptFor(
  db: Kysely<Database>,
  owners: readonly { branch: BranchWithTenant }[],
  ref: string,
  nowMs: number,
): Promise<{ attempt: AttemptRow; payment: PaymentRow } | undefined> {
  const rows = await listUnreceiptedMpesaAttempts(
    db,
    owners.map((o) => o.branch.id),
    new Date(nowMs - 7 * 86_400_000).toISOString(),
  )
  const attempt = rows.find((a) => accountReferenceFor(a.id) === ref)
  if (!attempt) return undefined
  const payment = await findPayment(db, attempt.payment_id)
  return payment ? { attempt, payment } : undefined
}

const ORDER = /^[A-Za-z0-9._:/-]{1,64}$/

export async function createC2BPayment(
  ctx: Ctx,
  trx: Kysely<Database>,
  d: Extract<Decision, { kind: 'c2b' }>,
  actor: string,
): Promise<{ payment: PaymentRow; note: string }> {
  const { branch, gw, c2b } = d
  // The inbox row's lock serialises this receipt: a replay finds the payment made the first time.
  const existing = await findPaymentByReceipt(trx, branch.tenant_id, c2b.transId)
  if (existing)
    return { payment: existing, note: `payment ${existing.id} already carries ${c2b.transId}` }
  const now = ctx.clock.now().toISOString()
  const id = ctx.ids.next('pay')
  const billRef = c2b.billRefNumber.trim()
  const row = newPaymentRow({
    id,
    branch,
    orderId: ORDER.test(billRef) ? billRef : null,
    amountMinor: d.amountMinor,
    currency: 'KES',
    method: 'mpesa',
    customerType: 'regular',
    phone: null,
    gateway: 'mpesa',
    routing: {
      rule: 'c2b',
      reason: `C2B ${c2b.transactionType || 'payment'} to shortcode ${c2b.businessShortCode} with no STK push behind it`,
      order: ['mpesa'],
      candidates: [],
    },
    idempotencyKey: null,
    gatewayRef: c2b.transId,
    nextCheckAt: null,
    at: now,
  })
  await recordCreated(ctx, trx, row, branch, {
    reason: `C2B confirmation ${c2b.transId}`,
    actor,
    request: {
      source: 'c2b',
      amount: d.amountMinor.toString(),
      currency: 'KES',
      method: 'mpesa',
      transId: c2b.transId,
      shortcode: c2b.businessShortCode,
      accountReference: billRef,
    },
  })
  await insertAttempt(trx, {
    id: ctx.ids.next('att'),
    payment_id: id,
    seq: 1,
    gateway: 'mpesa',
    gateway_config_id: gw.row.id,
    status: 'succeeded',
    failure_kind: null,
    code: '0',
    message: 'C2B confirmation',
    gateway_ref: c2b.transId,
    secondary_ref: null,
    receipt_number: c2b.transId,
    request: null,
    response: JSON.stringify({ ...c2b, msisdn: c2b.msisdn ? '[masked]' : '' }),
    latency_ms: 0,
    created_at: now,
    updated_at: now,
  })
  const moved = await transition(
    ctx,
    trx,
    row,
    'succeeded',
    `C2B ${c2b.transId} to ${c2b.businessShortCode} (account ${billRef || 'none'})`,
    { ...transitionContext(branch, gw), actor },
    { receipt_number: c2b.transId },
  )
  return { payment: moved ?? row, note: `new C2B payment ${id} (${c2b.transId})` }
}
