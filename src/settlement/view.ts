import { minorAndDecimal } from '../core/money/format.js'
import type { BatchRow } from './batches-store.js'

/** A settlement batch as `dsh settle`, `dsh settlements list|show` and the API show it. */
export interface BatchView {
  id: string
  /** `transfer`, or `cash_deposit` for a cash-up (the branch banks its cash). */
  kind: BatchKind
  reference: string
  /** A cash-up's `CASH-…` reference for the deposit slip (null for a transfer). */
  depositReference: string | null
  /** What a cash-up expects on the branch's bank statement: Σ its cash payments (null for a transfer). */
  expectedMinor: bigint | null
  expected: string | null
  branch: string
  gateway: string
  currency: string
  periodStart: string | null
  periodEnd: string
  status: string
  paymentCount: number
  grossMinor: bigint
  gross: string
  transactionFeesMinor: bigint
  transactionFees: string
  conversionFeesMinor: bigint
  conversionFees: string
  settlementFeeMinor: bigint
  settlementFee: string
  feesMinor: bigint
  fees: string
  netMinor: bigint
  net: string
  transfer: { adapter: string; transferId: string | null; files: string[]; sentAt: string } | null
  bankRef: string | null
  failureReason: string | null
  createdAt: string
  updatedAt: string
  completedAt: string | null
}

export function batchView(r: BatchRow, branch: string): BatchView {
  const money = <K extends string>(name: K, v: unknown) =>
    minorAndDecimal(name, { minor: BigInt(v as string), currency: r.currency })
  const cash = r.kind === CASH_DEPOSIT
  return {
    id: r.id,
    kind: cash ? CASH_DEPOSIT : TRANSFER,
    reference: r.reference,
    depositReference: cash ? r.reference : null,
    ...(cash ? money('expected', r.net_minor) : { expectedMinor: null, expected: null }),
    branch,
    gateway: r.gateway,
    currency: r.currency,
    periodStart: r.period_start,
    periodEnd: r.period_end,
    status: r.status,
    paymentCount: Number(r.payment_count),
    ...money('gross', r.gross_minor),
    ...money('transactionFees', r.transaction_fees_minor),
    ...money('conversionFees', r.conversion_fees_minor),
    ...money('settlementFee', r.settlement_fee_minor),
    ...money('fees', r.fees_minor),
    ...money('net', r.net_minor),
    transfer:
      r.transfer_adapter && r.sent_at
        ? {
            adapter: r.transfer_adapter,
            transferId: r.transfer_id,
            files: r.transfer_files ? (JSON.parse(r.transfer_files) as string[]) : [],
            sentAt: r.sent_at,
          }
        : null,
    bankRef: r.bank_ref,
    failureReason: r.failure_reason,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    completedAt: r.completed_at,
  }
}

/** `SETTLEMENT-` + the last 10 characters of the batch id (the ULID's random part). */
export const referenceOf = (batchId: string) => `SETTLEMENT-${batchId.slice(-10)}`

/** A cash-up's deposit reference: `CASH-` + the last 10 characters of its id. */
export const depositReferenceOf = (cashUpId: string) => `CASH-${cashUpId.slice(-10)}`

export const TRANSFER = 'transfer'
export const CASH_DEPOSIT = 'cash_deposit'
export type BatchKind = typeof TRANSFER | typeof CASH_DEPOSIT

/** The gateway whose money is banked by the branch (a cash-up), never transferred. */
export const CASH_GATEWAY = 'cash'

/** A cash-up's statuses: the branch owes the deposit, the bank statement showed it, or cancelled. */
export const CASH_UP_STATUSES = ['awaiting_deposit', 'deposited', 'cancelled'] as const

/** A cash-up's figures: no fees (cash never passes a gateway or a transfer), net = gross. */
export const cashUpFigures = (t: { count: number; gross: bigint }) => ({
  payment_count: t.count,
  gross_minor: t.gross,
  transaction_fees_minor: 0n,
  conversion_fees_minor: 0n,
  settlement_fee_minor: 0n,
  fees_minor: 0n,
  net_minor: t.gross,
})

/**
 * A batch's figures from its members' totals and its settlement fee: transaction fees = Σ member
 * fees − Σ their conversion parts, fees = Σ member fees + the settlement fee, net = gross − fees.
 */
export function batchFigures(
  t: { count: number; gross: bigint; fees: bigint; conversion: bigint },
  settlementFee: bigint,
) {
  const fees = t.fees + settlementFee
  return {
    payment_count: t.count,
    gross_minor: t.gross,
    transaction_fees_minor: t.fees - t.conversion,
    conversion_fees_minor: t.conversion,
    settlement_fee_minor: settlementFee,
    fees_minor: fees,
    net_minor: t.gross - fees,
  }
}
