import { jsonOrText } from '../core/json.js'
import { toDecimalString } from '../core/money/format.js'
import { maskMsisdn } from '../core/phone.js'
import type { AttemptRow, PaymentEventRow, PaymentRow } from './payments-store.js'

export interface PaymentView {
  id: string
  status: string
  branch: string
  gateway: string | null
  method: string
  customerType: string
  orderId: string | null
  amountMinor: bigint
  amount: string
  currency: string
  phoneMasked: string | null
  receiptNumber: string | null
  checkoutRequestId: string | null
  failure: { code: string; message: string } | null
  feeMinor: bigint | null
  fee: string | null
  /**
   * The fee's flat part when configured in another currency (the branch's): as configured, the
   * rate it was converted at and that rate's day; `rate` null means no rate (`fee_without_rate`).
   */
  feeFlatConversion: {
    fromMinor: bigint
    from: string
    fromCurrency: string
    rate: string | null
    asOf: string | null
    flatMinor: bigint | null
    flat: string | null
  } | null
  idempotencyKey: string | null
  settlementStatus: string
  settlementBatchId: string | null
  createdAt: string
  updatedAt: string
  completedAt: string | null
  routing: unknown
}

const money = (minor: bigint, currency: string) => toDecimalString({ minor, currency })

function flatConversion(p: PaymentRow): PaymentView['feeFlatConversion'] {
  if (p.fee_flat_source_minor === null || p.fee_flat_source_minor === undefined) return null
  const fromCurrency = p.fee_flat_source_currency as string
  const fromMinor = BigInt(p.fee_flat_source_minor)
  const flatMinor = p.fee_flat_minor === null ? null : BigInt(p.fee_flat_minor)
  return {
    fromMinor,
    from: money(fromMinor, fromCurrency),
    fromCurrency,
    rate: p.fee_fx_rate ?? null,
    asOf: p.fee_fx_as_of ?? null,
    flatMinor,
    flat: flatMinor === null ? null : money(flatMinor, p.currency),
  }
}

export function paymentView(p: PaymentRow, branchCode: string): PaymentView {
  const amountMinor = BigInt(p.amount_minor)
  const feeMinor = p.fee_minor === null ? null : BigInt(p.fee_minor)
  return {
    id: p.id,
    status: p.status,
    branch: branchCode,
    gateway: p.gateway,
    method: p.method,
    customerType: p.customer_type,
    orderId: p.order_id,
    amountMinor,
    amount: money(amountMinor, p.currency),
    currency: p.currency,
    phoneMasked: p.phone ? maskMsisdn(p.phone) : null,
    receiptNumber: p.receipt_number,
    checkoutRequestId: p.gateway_ref,
    failure: p.failure_code ? { code: p.failure_code, message: p.failure_message ?? '' } : null,
    feeMinor,
    fee: feeMinor === null ? null : money(feeMinor, p.currency),
    feeFlatConversion: flatConversion(p),
    idempotencyKey: p.idempotency_key,
    settlementStatus: p.settlement_status,
    settlementBatchId: p.settlement_batch_id,
    createdAt: p.created_at,
    updatedAt: p.updated_at,
    completedAt: p.completed_at,
    routing: JSON.parse(p.routing) as unknown,
  }
}

export interface AttemptView {
  id: string
  seq: number
  gateway: string
  status: string
  failureKind: string | null
  code: string | null
  message: string | null
  gatewayRef: string | null
  receiptNumber: string | null
  latencyMs: number | null
  request: unknown
  response: unknown
  createdAt: string
  updatedAt: string
}

const parse = (t: string | null): unknown => (t === null ? null : jsonOrText(t))

export const attemptView = (a: AttemptRow): AttemptView => ({
  id: a.id,
  seq: a.seq,
  gateway: a.gateway,
  status: a.status,
  failureKind: a.failure_kind,
  code: a.code,
  message: a.message,
  gatewayRef: a.gateway_ref,
  receiptNumber: a.receipt_number,
  latencyMs: a.latency_ms,
  request: parse(a.request),
  response: parse(a.response),
  createdAt: a.created_at,
  updatedAt: a.updated_at,
})

export const eventView = (e: PaymentEventRow) => ({
  at: e.at,
  from: e.from_status,
  to: e.to_status,
  actor: e.actor,
  reason: e.reason,
})
