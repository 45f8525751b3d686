import { minorAndDecimal } from '../core/money/format.js'
import type { BatchRow } from './batches-store.js'

/** A settlement batch as `dsh settle`, `dsh settlements list|show` and the API show it. */
export interface BatchView {
  id: string
  reference: string
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
  return {
    id: r.id,
    reference: r.reference,
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
