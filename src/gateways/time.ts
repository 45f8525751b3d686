const NAIROBI = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Africa/Nairobi',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
})

/**
 * `YYYYMMDDHHmmss` in Africa/Nairobi time (GATEWAYS.md §1.11): Daraja's Timestamp, computed from
 * one clock reading and reused in the Password.
 *
 * @example nairobiTimestamp(new Date('2025-01-31T21:30:05Z')) // '20250201003005'
 */
export function nairobiTimestamp(at: Date): string {
  const parts: Record<string, string> = {}
  for (const p of NAIROBI.formatToParts(at)) parts[p.type] = p.value
  return `${parts['year']}${parts['month']}${parts['day']}${parts['hour']}${parts['minute']}${parts['second']}`
}
