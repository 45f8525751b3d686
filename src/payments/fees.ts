import type { Kysely } from 'kysely'
import type { Ctx } from '../context.js'
import type { FeeStructure } from '../core/gateways/fees.js'
import { formatMoney, toDecimalString } from '../core/money/format.js'
import { flatNeedsRate, type PaymentFee, paymentFee } from '../core/payments/fees.js'
import { DEFAULT_TIMEZONE, dayIn, formatDay } from '../core/time.js'
import { rateIn } from '../reports/rates.js'
import type { Database } from '../store/schema.js'
import { listFeesWithoutRate } from './fees-store.js'

/** The fee columns of a payment, as recorded when it succeeds (or when a settlement fills them). */
export interface FeeColumns {
  fee_minor: bigint
  fee_rate_bp: number
  fee_flat_minor: bigint
  fee_currency: string
  fee_flat_source_minor: bigint | null
  fee_flat_source_currency: string | null
  fee_fx_rate: string | null
  fee_fx_as_of: string | null
}

/** The day whose rate converts a fee recorded at `at`: that day in the branch's time zone. */
export const feeDay = (timezone: string | undefined, at: Date): string =>
  formatDay(dayIn(timezone ?? DEFAULT_TIMEZONE, at))

/**
 * The fee of a payment with the configuration `fees`, its flat part converted with `dsh rates`
 * (configuration currency → payment currency, the rate in force on `day`) when the currencies
 * differ; without a rate the flat part is left out and the payment says so (`fee_without_rate`).
 */
export async function feeColumns(
  db: Kysely<Database>,
  p: { amount_minor: bigint | number | string; currency: string },
  branchCurrency: string,
  fees: FeeStructure,
  day: string,
): Promise<FeeColumns & { fee: PaymentFee }> {
  const rate = flatNeedsRate(fees, p.currency)
    ? await rateIn(db, fees.currency, p.currency, day)
    : null
  const fee = paymentFee(BigInt(p.amount_minor), p.currency, branchCurrency, fees, rate?.rate)
  return {
    fee,
    fee_minor: fee.feeMinor,
    fee_rate_bp: fee.rateBp,
    fee_flat_minor: fee.flatMinor,
    fee_currency: p.currency,
    fee_flat_source_minor: fee.flatSource?.minor ?? null,
    fee_flat_source_currency: fee.flatSource?.currency ?? null,
    fee_fx_rate: fee.flatSource && rate ? rate.text : null,
    fee_fx_as_of: fee.flatSource ? (rate?.asOf ?? day) : null,
  }
}

/** A payment whose fee has no flat part for want of a rate (`dsh doctor`, `dsh health`). */
export interface FeeWithoutRate {
  paymentId: string
  branch: string
  amount: string
  currency: string
  flatFee: string
  flatFeeCurrency: string
  /** The day whose rate it needs. */
  day: string
  message: string
}

/** `fee_without_rate` findings: unsettled payments whose flat fee is waiting for a rate. */
export async function feesWithoutRate(ctx: Ctx): Promise<FeeWithoutRate[]> {
  const store = await ctx.store()
  const rows = (await listFeesWithoutRate(store.db)).filter((r) => r.status === 'succeeded')
  return rows.map((r) => {
    const from = r.fee_flat_source_currency as string
    const flat = { minor: BigInt(r.fee_flat_source_minor ?? 0), currency: from }
    const day = r.fee_fx_as_of as string
    return {
      paymentId: r.id,
      branch: r.branch,
      amount: toDecimalString({ minor: BigInt(r.amount_minor), currency: r.currency }),
      currency: r.currency,
      flatFee: toDecimalString(flat),
      flatFeeCurrency: from,
      day,
      message: `fee_without_rate: payment ${r.id} (${formatMoney({ minor: BigInt(r.amount_minor), currency: r.currency })} at ${r.branch}) was recorded without its flat fee of ${formatMoney(flat)}: no ${from}→${r.currency} rate on ${day}; set one with \`dsh rates set ${from} ${r.currency} <rate> --as-of ${day}\` and the next \`dsh settle\` adds it`,
    }
  })
}
