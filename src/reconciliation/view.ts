import { toDecimalString } from '../core/money/index.js'
import type { Category } from '../core/reconciliation/match.js'
import type { ReconPayment } from '../payments/reconcile.js'
import type { ReconBatch } from '../settlement/reconcile.js'
import type { LineWithFile } from '../statements/lines.js'

export interface StatementLineView {
  id: string
  file: string
  line: number
  reference: string
  bookedAt: string
  amountMinor: bigint
  amount: string
  currency: string
}

export interface PaymentRefView {
  id: string
  receiptNumber: string | null
  orderId: string | null
  amountMinor: bigint
  amount: string
  currency: string
  completedAt: string | null
}

export interface BatchRefView {
  id: string
  /** `transfer`, or `cash_deposit` (a cash-up: net is the expected deposit). */
  kind: string
  reference: string
  netMinor: bigint
  net: string
  currency: string
}

export interface DiscrepancyView {
  id: string
  category: Category
  severity: string
  pass: string
  rule: string
  statementLine: StatementLineView | null
  payment: PaymentRefView | null
  batch: BatchRefView | null
  expectedMinor: bigint
  expected: string
  actualMinor: bigint
  actual: string
  differenceMinor: bigint
  difference: string
  currency: string
  suggestion: string | null
}

export interface RunReport {
  runId: string
  branch: string
  from: string
  to: string
  summary: {
    lines: number
    matched: number
    discrepancies: number
    byCategory: Record<Category, number>
    /** Statement lines matched by the automatic passes, in basis points of all lines. */
    autoMatchRateBp: number
  }
  discrepancies: DiscrepancyView[]
}

const dec = (minor: bigint, currency: string) => toDecimalString({ minor, currency })

export const lineView = (
  l: Pick<
    LineWithFile,
    'id' | 'file' | 'line_no' | 'reference' | 'booked_at' | 'amount_minor' | 'currency'
  >,
): StatementLineView => {
  const amountMinor = BigInt(l.amount_minor)
  return {
    id: l.id,
    file: l.file,
    line: l.line_no,
    reference: l.reference,
    bookedAt: l.booked_at,
    amountMinor,
    amount: dec(amountMinor, l.currency),
    currency: l.currency,
  }
}

export const paymentRefView = (p: ReconPayment): PaymentRefView => ({
  id: p.id,
  receiptNumber: p.receiptNumber,
  orderId: p.orderId,
  amountMinor: p.amountMinor,
  amount: dec(p.amountMinor, p.currency),
  currency: p.currency,
  completedAt: p.completedAt,
})

export const moneyTriple = (expected: bigint, actual: bigint, currency: string) => ({
  expectedMinor: expected,
  expected: dec(expected, currency),
  actualMinor: actual,
  actual: dec(actual, currency),
  differenceMinor: actual - expected,
  difference: dec(actual - expected, currency),
  currency,
})

export const batchRefView = (b: ReconBatch): BatchRefView => ({
  id: b.id,
  kind: b.kind,
  reference: b.reference,
  netMinor: b.netMinor,
  net: dec(b.netMinor, b.currency),
  currency: b.currency,
})
