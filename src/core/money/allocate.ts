import type { Money } from './money.js'

/**
 * Splits an amount by integer ratios without losing a unit (largest remainder; ties go to the
 * earlier share). The parts always sum to the total.
 *
 * @example allocate({ minor: 100n, currency: 'KES' }, [1, 1, 1]) // 34n, 33n, 33n
 */
export function allocate(total: Money, ratios: readonly (number | bigint)[]): Money[] {
  const weights = ratios.map((r) => BigInt(r))
  if (weights.length === 0) throw new RangeError('allocate needs at least one ratio')
  if (weights.some((w) => w < 0n)) throw new RangeError('ratios must not be negative')
  const totalWeight = weights.reduce((a, b) => a + b, 0n)
  if (totalWeight === 0n) throw new RangeError('ratios must not all be zero')

  const negative = total.minor < 0n
  const amount = negative ? -total.minor : total.minor
  const shares = weights.map((w) => (amount * w) / totalWeight)
  const remainders = weights.map((w, i) => ({ i, r: (amount * w) % totalWeight }))
  let left = amount - shares.reduce((a, b) => a + b, 0n)
  remainders.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1))
  for (const { i } of remainders) {
    if (left === 0n) break
    shares[i] = (shares[i] ?? 0n) + 1n
    left -= 1n
  }
  return shares.map((s) => ({ minor: negative ? -s : s, currency: total.currency }))
}
