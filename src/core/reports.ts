import { divRoundHalfUp } from './money/rates.js'

/** succeeded ÷ (succeeded + failed + cancelled) in basis points, half-up; null when none is final. */
export function successRateBp(succeeded: number, failed: number, cancelled: number): number | null {
  const final = succeeded + failed + cancelled
  if (final === 0) return null
  return Number(divRoundHalfUp(BigInt(succeeded) * 10_000n, BigInt(final)))
}

/** Basis points as a percentage with two decimals: 9750 → "97.50". */
export function bpAsPercent(bp: number | null): string | null {
  if (bp === null) return null
  const whole = Math.trunc(bp / 100)
  return `${whole}.${String(bp % 100).padStart(2, '0')}`
}

/** The mean of `count` amounts summing to `totalMinor`, half-up (0 when there are none). */
export const averageMinor = (totalMinor: bigint, count: number): bigint =>
  count === 0 ? 0n : divRoundHalfUp(totalMinor, BigInt(count))
