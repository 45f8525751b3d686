import { validationError } from '../errors.js'
import type { Money } from './money.js'

/** Basis points: 1.5% = 150 bp. Rates are integers, never fractions or floats. */
export type BasisPoints = number

const PERCENT = /^(\d{1,6})(?:\.(\d{1,2}))?$/

/**
 * Parses a percentage string ("16", "1.5", "0.25") into basis points.
 * At most two decimals, between 0 and `max` percent.
 */
export function parsePercent(input: string, what: string, max = 100): BasisPoints {
  const text = input.trim().replace(/%$/, '')
  const m = PERCENT.exec(text)
  if (!m) {
    const tooPrecise = /^\d+\.\d{3,}$/.test(text)
    throw validationError(
      'invalid_rate',
      tooPrecise
        ? `${what} "${input}" has more than 2 decimals`
        : `${what} "${input}" is not a percentage`,
      `give a percentage from 0 to ${max} with at most 2 decimals, e.g. 16 or 1.5`,
    )
  }
  const bp = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'))
  if (bp > max * 100) {
    throw validationError('invalid_rate', `${what} "${input}" is above ${max}%`, `give 0 to ${max}`)
  }
  return bp
}

/** 150 → "1.5", 1600 → "16", 5 → "0.05". */
export function formatPercent(bp: BasisPoints): string {
  if (!Number.isInteger(bp)) throw new TypeError('rate must be integer basis points')
  const abs = Math.abs(bp)
  const whole = (abs - (abs % 100)) / 100
  const frac = (abs % 100).toString().padStart(2, '0').replace(/0+$/, '')
  return `${bp < 0 ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`
}

/**
 * Applies a rate in basis points to an amount. Rounding rule: half away from zero
 * (for non-negative amounts, half-up) on the exact product, once per amount.
 *
 * @example applyRate({ minor: 1005n, currency: 'KES' }, 150) // 15.075 cents → 15n
 */
export function applyRate(m: Money, bp: BasisPoints): Money {
  if (!Number.isInteger(bp)) throw new TypeError('rate must be integer basis points')
  return { minor: divRoundHalfUp(m.minor * BigInt(bp), 10_000n), currency: m.currency }
}

/** Integer division of n by d (d > 0), rounding halves away from zero. */
export function divRoundHalfUp(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new RangeError('divisor must be positive')
  const negative = n < 0n
  const abs = negative ? -n : n
  const q = (abs * 2n + d) / (2n * d)
  return negative ? -q : q
}
