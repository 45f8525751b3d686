import { validationError } from '../errors.js'
import { currency } from './currency.js'
import { toDecimalString } from './format.js'
import type { Money } from './money.js'

/**
 * The largest amount dsh accepts, in minor units of any currency: every amount then stays exact
 * wherever it goes (JSON readers, SQLite integers, gateways' number fields).
 */
export const MAX_MINOR = BigInt(Number.MAX_SAFE_INTEGER)

const clipInput = (s: string) => (s.length <= 60 ? s : `${s.slice(0, 60)}…`)

// Grouped numbers must not start with a zero ("0,500" is a typo, not 500).
const AMOUNT = /^([+-])?([1-9]\d{0,2}(?:,\d{3})+|\d+)(?:\.(\d+))?$/

/**
 * Parses a decimal string in major units ("1,500.50", "1500", "-12.5") into minor units.
 * Thousands separators must be in the right places; more decimals than the currency allows is an
 * error, never rounded away.
 *
 * @example parseAmount('1,500.50', 'KES') // { minor: 150050n, currency: 'KES' }
 */
export function parseAmount(input: string, code: string): Money {
  const cur = currency(code)
  const text = input.trim()
  const m = AMOUNT.exec(text)
  if (!m) {
    throw validationError(
      'invalid_amount',
      `"${clipInput(input)}" is not an amount`,
      `write it like 1500, 1,500.50 or -12.5 (major units of ${cur.code})`,
    )
  }
  const [, sign, whole = '0', fraction = ''] = m
  if (fraction.length > cur.exponent) {
    throw validationError(
      'too_many_decimals',
      `"${clipInput(input)}" has ${fraction.length} decimal${fraction.length === 1 ? '' : 's'}; ${cur.code} allows ${cur.exponent === 0 ? 'none (whole units only)' : `at most ${cur.exponent}`}`,
      cur.exponent === 0 ? `give a whole number of ${cur.code}` : undefined,
    )
  }
  const digits = whole.replaceAll(',', '') + fraction.padEnd(cur.exponent, '0')
  const minor = BigInt(digits)
  if (minor > MAX_MINOR) {
    const largest = toDecimalString({ minor: MAX_MINOR, currency: cur.code })
    throw validationError(
      'amount_too_large',
      `"${clipInput(input)}" is more than the largest accepted amount, ${largest} ${cur.code}`,
      `amounts are at most ${MAX_MINOR} minor units (${largest} ${cur.code})`,
    )
  }
  return { minor: sign === '-' ? -minor : minor, currency: cur.code }
}

/** Parses an amount that must be zero or more. */
export function parseNonNegativeAmount(input: string, code: string): Money {
  const m = parseAmount(input, code)
  if (m.minor < 0n) throw validationError('negative_amount', `"${input}" must not be negative`)
  return m
}

/** Parses an amount that must be more than zero. */
export function parsePositiveAmount(input: string, code: string): Money {
  const m = parseAmount(input, code)
  if (m.minor <= 0n)
    throw validationError('non_positive_amount', `"${input}" must be more than zero`)
  return m
}
