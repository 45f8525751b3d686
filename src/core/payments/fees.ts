import type { FeeStructure } from '../gateways/fees.js'
import { convert, type FxRate } from '../money/fx.js'
import { applyRate } from '../money/rates.js'

export interface PaymentFee {
  /** Total fee in the payment's currency. */
  feeMinor: bigint
  rateBp: number
  /** The flat part in the payment's currency (converted when configured in another). */
  flatMinor: bigint
  conversionBp: number
  /** The flat part as configured, when its currency is not the payment's (null otherwise). */
  flatSource: { minor: bigint; currency: string } | null
  /** A flat part in another currency with no rate to convert it: left out of `feeMinor`. */
  missingRate: boolean
}

/**
 * The fee recorded on a payment when it succeeds, from the configuration then in force (so later
 * fee changes never rewrite history). Rule: each rate is applied to the amount and rounded
 * half-up once per payment; the flat fee is in the configuration's currency (the branch's): a
 * payment in another currency gets it converted at `flatRate` (configuration currency → payment
 * currency, exact, half-up to the minor unit), or without it when no rate is known
 * (`missingRate`); a cross-border payment also pays the conversion rate.
 *
 * @example paymentFee(5000n, 'KES', 'RWF', { ...fees, currency: 'RWF', transactionFeeFlatMinor: 100n }, rate)
 */
export function paymentFee(
  amountMinor: bigint,
  currency: string,
  branchCurrency: string,
  fees: FeeStructure,
  flatRate?: FxRate | null,
): PaymentFee {
  const amount = { minor: amountMinor, currency }
  let fee = applyRate(amount, fees.transactionFeeBp).minor
  const source = fees.transactionFeeFlatMinor
  const foreign = fees.currency !== currency && source > 0n
  const flat = !foreign
    ? fees.currency === currency
      ? source
      : 0n
    : flatRate
      ? convert({ minor: source, currency: fees.currency }, currency, flatRate).minor
      : 0n
  fee += flat
  const conversionBp = currency !== branchCurrency ? fees.conversionFeeBp : 0
  if (conversionBp > 0) fee += applyRate(amount, conversionBp).minor
  return {
    feeMinor: fee,
    rateBp: fees.transactionFeeBp,
    flatMinor: flat,
    conversionBp,
    flatSource: foreign ? { minor: source, currency: fees.currency } : null,
    missingRate: foreign && !flatRate,
  }
}

/** Whether a fee structure's flat part needs a rate for a payment in `currency`. */
export const flatNeedsRate = (fees: FeeStructure, currency: string): boolean =>
  fees.currency !== currency && fees.transactionFeeFlatMinor > 0n
