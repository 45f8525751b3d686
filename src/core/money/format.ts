import { currency } from './currency.js'
import type { Money } from './money.js'

/** The exact decimal string of an amount in its currency's decimals: 150050n KES → "1500.50". */
export function toDecimalString(m: Money): string {
  const { exponent } = currency(m.currency)
  const negative = m.minor < 0n
  const digits = (negative ? -m.minor : m.minor).toString().padStart(exponent + 1, '0')
  const whole = exponent === 0 ? digits : digits.slice(0, -exponent)
  const fraction = exponent === 0 ? '' : `.${digits.slice(-exponent)}`
  return `${negative ? '-' : ''}${whole}${fraction}`
}

/** The decimal string with thousands separators, without the code: 150050n KES → "1,500.50". */
export function toGroupedString(m: Money): string {
  const plain = toDecimalString(m)
  const negative = plain.startsWith('-')
  const [whole = '0', fraction] = (negative ? plain.slice(1) : plain).split('.')
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return `${negative ? '-' : ''}${grouped}${fraction === undefined ? '' : `.${fraction}`}`
}

/** For people: thousands separators and the code, "KES 1,500.50". Parses back with parseAmount. */
export function formatMoney(m: Money): string {
  const grouped = toGroupedString(m)
  return grouped.startsWith('-') ? `-${m.currency} ${grouped.slice(1)}` : `${m.currency} ${grouped}`
}

/** The JSON shape of a money field `x`: `{ xMinor, x, currency }`. */
export function moneyFields<K extends string>(
  name: K,
  m: Money,
): Record<`${K}Minor` | K, bigint | string> & { currency: string } {
  return { [`${name}Minor`]: m.minor, [name]: toDecimalString(m), currency: m.currency } as Record<
    `${K}Minor` | K,
    bigint | string
  > & { currency: string }
}

/**
 * A money field `x` without its currency (for a view that states the currency once):
 * `{ xMinor, x }`, typed exactly.
 */
export function minorAndDecimal<K extends string>(
  name: K,
  m: Money,
): Record<`${K}Minor`, bigint> & Record<K, string> {
  return { [`${name}Minor`]: m.minor, [name]: toDecimalString(m) } as Record<`${K}Minor`, bigint> &
    Record<K, string>
}
