import { validationError } from '../errors.js'
import { currency } from './currency.js'
import type { Money } from './money.js'
import { divRoundHalfUp } from './rates.js'

/**
 * An exchange rate as an exact decimal: `num / den` units of the target currency per unit of the
 * source (major units), never a float. "128.4567" → 1284567 / 10000.
 */
export interface FxRate {
  num: bigint
  den: bigint
}

const RATE = /^(\d{1,12})(?:\.(\d{1,12}))?$/

/** Parses a positive decimal rate ("128.45", "0.0078") exactly. */
export function parseFxRate(input: string): FxRate {
  const m = RATE.exec(input.trim())
  if (!m)
    throw validationError(
      'invalid_rate',
      `"${input.slice(0, 60)}" is not an exchange rate`,
      'give a positive decimal with at most 12 decimals, e.g. 28.4567 (units of the second currency per unit of the first)',
    )
  const frac = m[2] ?? ''
  const num = BigInt(`${m[1]}${frac}`)
  if (num === 0n) throw validationError('invalid_rate', 'an exchange rate must be above 0')
  return { num, den: 10n ** BigInt(frac.length) }
}

/** The rate as the exact decimal it was given: 1284567/10000 → "128.4567". */
export function formatFxRate(r: FxRate): string {
  const decimals = r.den.toString().length - 1
  const digits = r.num.toString().padStart(decimals + 1, '0')
  return decimals === 0 ? digits : `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`
}

/**
 * Converts an amount at an exact rate, rounding half-up once, on the exact product, into the
 * target currency's minor units (exponents differ: KES has 2, UGX 0).
 *
 * @example convert({ minor: 10050n, currency: 'KES' }, 'UGX', parseFxRate('28.5')) // 2864n UGX
 */
export function convert(m: Money, to: string, rate: FxRate): Money {
  const from = currency(m.currency).exponent
  const target = currency(to).exponent
  const n = m.minor * rate.num * 10n ** BigInt(target)
  const d = rate.den * 10n ** BigInt(from)
  return { minor: divRoundHalfUp(n, d), currency: currency(to).code }
}
