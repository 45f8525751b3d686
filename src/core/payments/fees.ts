import type { FeeStructure } from '../gateways/fees.js'
import { applyRate } from '../money/rates.js'

export interface PaymentFee {
  /** Total fee in the payment's currency. */
  feeMinor: bigint
  rateBp: number
  flatMinor: bigint
  conversionBp: number
}

/**
 * The fee recorded on a payment when it succeeds, from the configuration then in force (so later
 * fee changes never rewrite history). Rule: each rate is applied to the amount and rounded
 * half-up once per payment; the flat fee is added when it is in the payment's currency; a
 * cross-border payment also pays the conversion rate.
 */
export function paymentFee(
  amountMinor: bigint,
  currency: string,
  branchCurrency: string,
  fees: FeeStructure,
): PaymentFee {
  const amount = { minor: amountMinor, currency }
  let fee = applyRate(amount, fees.transactionFeeBp).minor
  const flat = fees.currency === currency ? fees.transactionFeeFlatMinor : 0n
  fee += flat
  const conversionBp = currency !== branchCurrency ? fees.conversionFeeBp : 0
  if (conversionBp > 0) fee += applyRate(amount, conversionBp).minor
  return { feeMinor: fee, rateBp: fees.transactionFeeBp, flatMinor: flat, conversionBp }
}
