import type { Kysely } from 'kysely'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import type { Database } from '../store/schema.js'
import type { BranchWithTenant } from '../tenants/branches.js'
import { insertPayment, insertPaymentEvent, type PaymentRow } from './payments-store.js'

/** What differs between payments when they are born; everything else starts the same. */
export interface NewPayment {
  id: string
  branch: BranchWithTenant
  orderId: string | null
  amountMinor: bigint
  currency: string
  method: string
  customerType: string
  phone: string | null
  gateway: string | null
  /** The routing decision (or where the payment came from), kept as JSON. */
  routing: unknown
  idempotencyKey: string | null
  gatewayRef: string | null
  nextCheckAt: string | null
  at: string
}

/** A payment row in state `created`, unsettled, with no fee yet (fees are fixed on success). */
export function newPaymentRow(p: NewPayment): PaymentRow {
  return {
    id: p.id,
    tenant_id: p.branch.tenant_id,
    branch_id: p.branch.id,
    order_id: p.orderId,
    amount_minor: p.amountMinor,
    currency: p.currency,
    refunded_minor: 0n,
    method: p.method,
    customer_type: p.customerType,
    phone: p.phone,
    gateway: p.gateway,
    status: 'created',
    failure_code: null,
    failure_message: null,
    routing: JSON.stringify(p.routing),
    idempotency_key: p.idempotencyKey,
    receipt_number: null,
    gateway_ref: p.gatewayRef,
    fee_minor: null,
    fee_rate_bp: null,
    fee_flat_minor: null,
    fee_currency: null,
    fee_flat_source_minor: null,
    fee_flat_source_currency: null,
    fee_fx_rate: null,
    fee_fx_as_of: null,
    settlement_status: 'unsettled',
    settlement_batch_id: null,
    next_check_at: p.nextCheckAt,
    check_count: 0,
    created_at: p.at,
    updated_at: p.at,
    completed_at: null,
  }
}

/**
 * Records a new payment in the caller's transaction: the row, its `created` timeline entry and
 * the `payment.create` audit row, so no payment exists without its history.
 */
export async function recordCreated(
  ctx: Ctx,
  trx: Kysely<Database>,
  row: PaymentRow,
  branch: BranchWithTenant,
  why: { reason: string; actor: string; request: Record<string, unknown> },
): Promise<void> {
  await insertPayment(trx, row)
  await insertPaymentEvent(trx, {
    id: ctx.ids.next('pe'),
    payment_id: row.id,
    at: row.created_at,
    from_status: null,
    to_status: 'created',
    actor: why.actor,
    reason: why.reason,
  })
  await audit(ctx, trx, {
    action: 'payment.create',
    tenant: branch.tenant_slug,
    branch: branch.code,
    target: row.id,
    request: why.request,
  })
}
