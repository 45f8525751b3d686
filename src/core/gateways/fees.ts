import { parseNonNegativeAmount } from '../money/parse.js'
import { parsePercent } from '../money/rates.js'

export interface FeeStructure {
  currency: string
  transactionFeeBp: number
  transactionFeeFlatMinor: bigint
  conversionFeeBp: number
  settlementFeeMinor: bigint
}

export interface FeeInput {
  transactionFeeRate?: string | undefined
  transactionFeeFlat?: string | undefined
  conversionFeeRate?: string | undefined
  settlementFee?: string | undefined
}

/** Fee rates above this are surely a typo (a fraction like 0.015 is fine: it means 0.015%). */
export const MAX_FEE_PERCENT = 20

/**
 * Parses the fee flags against the configuration's currency, over the current structure.
 * Rates are percentages ("1.5" = 1.5% = 150 bp), never fractions.
 */
export function parseFees(input: FeeInput, current: FeeStructure): FeeStructure {
  const out = { ...current }
  if (input.transactionFeeRate !== undefined)
    out.transactionFeeBp = parsePercent(
      input.transactionFeeRate,
      'transaction fee rate',
      MAX_FEE_PERCENT,
    )
  if (input.conversionFeeRate !== undefined)
    out.conversionFeeBp = parsePercent(
      input.conversionFeeRate,
      'conversion fee rate',
      MAX_FEE_PERCENT,
    )
  if (input.transactionFeeFlat !== undefined)
    out.transactionFeeFlatMinor = parseNonNegativeAmount(
      input.transactionFeeFlat,
      current.currency,
    ).minor
  if (input.settlementFee !== undefined)
    out.settlementFeeMinor = parseNonNegativeAmount(input.settlementFee, current.currency).minor
  return out
}

export const noFees = (currency: string): FeeStructure => ({
  currency,
  transactionFeeBp: 0,
  transactionFeeFlatMinor: 0n,
  conversionFeeBp: 0,
  settlementFeeMinor: 0n,
})
