import { wallClock } from '../core/time.js'

/**
 * `YYYYMMDDHHmmss` in Africa/Nairobi time (GATEWAYS.md §1.11): Daraja's Timestamp, computed from
 * one clock reading and reused in the Password.
 *
 * @example nairobiTimestamp(new Date('2025-01-31T21:30:05Z')) // '20250201003005'
 */
export function nairobiTimestamp(at: Date): string {
  const w = wallClock('Africa/Nairobi', at)
  const two = (n: number) => String(n).padStart(2, '0')
  return `${w.year}${two(w.month)}${two(w.day)}${two(w.hour)}${two(w.minute)}${two(w.second)}`
}
