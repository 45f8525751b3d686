import type { Kysely, Updateable } from 'kysely'
import { toDecimalString } from '../core/money/format.js'
import type { Database, PaymentsTable } from '../store/schema.js'
import { appendEventRow, type EventRow } from './events-store.js'
import type { PaymentRow } from './payments-store.js'

/** One payment state change, as transition() sees it. */
export interface PaymentChange {
  at: string
  payment: PaymentRow
  changes: Updateable<PaymentsTable>
  from: string
  to: string
  reason: string
  ctx: { branchCode: string; tenantSlug: string; actor?: string | undefined }
}

/** What a live stream (`GET /api/events`, `dsh watch`) shows for a payment change. */
export interface PaymentEventData {
  type: 'payment.status'
  paymentId: string
  tenant: string
  branch: string
  from: string
  to: string
  reason: string
  amountMinor: string
  amount: string
  currency: string
  method: string
  gateway: string | null
  receiptNumber: string | null
  orderId: string | null
  at: string
}

const pick = <K extends keyof PaymentRow>(c: PaymentChange, k: K): PaymentRow[K] =>
  (k in c.changes ? (c.changes as Record<string, unknown>)[k] : c.payment[k]) as PaymentRow[K]

/**
 * Appends the change to the append-only events table in the caller's transaction, so it commits
 * with the change itself. Every process (CLI, daemons) writes here; every daemon streams from here.
 */
export async function appendEvent(trx: Kysely<Database>, c: PaymentChange): Promise<void> {
  const minor = BigInt(c.payment.amount_minor)
  const data: PaymentEventData = {
    type: 'payment.status',
    paymentId: c.payment.id,
    tenant: c.ctx.tenantSlug,
    branch: c.ctx.branchCode,
    from: c.from,
    to: c.to,
    reason: c.reason,
    amountMinor: minor.toString(),
    amount: toDecimalString({ minor, currency: c.payment.currency }),
    currency: c.payment.currency,
    method: c.payment.method,
    gateway: pick(c, 'gateway'),
    receiptNumber: pick(c, 'receipt_number'),
    orderId: c.payment.order_id,
    at: c.at,
  }
  await appendEventRow(trx, {
    at: c.at,
    type: data.type,
    tenant_id: c.payment.tenant_id,
    branch_id: c.payment.branch_id,
    payment_id: c.payment.id,
    data: JSON.stringify(data),
  })
}

/** The SSE `data:` of a stored event: its JSON with the sequence number added. */
export function eventJson(row: EventRow): string {
  const data = JSON.parse(row.data) as Record<string, unknown>
  // Money travels as an integer of minor units (stored as a digit string to stay exact).
  const minor = typeof data['amountMinor'] === 'string' ? data['amountMinor'] : undefined
  const text = JSON.stringify({ seq: Number(row.seq), ...data, amountMinor: '\u0000' })
  return minor && /^-?\d+$/.test(minor) ? text.replace('"\\u0000"', minor) : text
}

export {
  countEventsThrough,
  deleteOldestEvents,
  lastEventSeqBefore,
  latestEventSeq,
  listEventsAfter,
  oldestEventSeq,
  pingStore,
} from './events-store.js'
