import { DshError, validationError } from '../errors.js'
import { type Currency, currency } from './currency.js'

/** An amount in integer minor units of one currency. Never a float. */
export interface Money {
  readonly minor: bigint
  readonly currency: string
}

export const money = (minor: bigint, code: string): Money => ({
  minor,
  currency: currency(code).code,
})

export const zero = (code: string): Money => money(0n, code)

function sameCurrency(a: Money, b: Money): void {
  if (a.currency !== b.currency) {
    throw new DshError(
      'validation',
      'currency_mismatch',
      `cannot combine ${a.currency} and ${b.currency} amounts`,
    )
  }
}

export function add(a: Money, b: Money): Money {
  sameCurrency(a, b)
  return { minor: a.minor + b.minor, currency: a.currency }
}

export function subtract(a: Money, b: Money): Money {
  sameCurrency(a, b)
  return { minor: a.minor - b.minor, currency: a.currency }
}

export function sum(code: string, items: readonly Money[]): Money {
  return items.reduce(add, zero(code))
}

export const isNegative = (m: Money): boolean => m.minor < 0n

/**
 * Converts minor units between exponents (e.g. KES cents → whole shillings for M-Pesa).
 * Throws when the amount cannot be expressed exactly in the target unit.
 */
export function rescale(minor: bigint, fromExponent: number, toExponent: number): bigint {
  if (toExponent >= fromExponent) return minor * 10n ** BigInt(toExponent - fromExponent)
  const factor = 10n ** BigInt(fromExponent - toExponent)
  if (minor % factor !== 0n) {
    throw validationError(
      'inexact_amount',
      `amount cannot be expressed exactly with ${toExponent} decimals`,
    )
  }
  return minor / factor
}

export const currencyOf = (m: Money): Currency => currency(m.currency)
