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
  idempotencyKey: string | null
  settlementStatus: string
  settlementBatchId: string | null
  createdAt: string
  updatedAt: string
  completedAt: string | null
  routing: unknown
}

const money = (minor: bigint, currency: string) => toDecimalString({ minor, currency })

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
