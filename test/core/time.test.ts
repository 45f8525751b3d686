import { describe, expect, it } from 'vitest'
import type { DshError } from '../../src/core/errors.js'
import {
  formatLocal,
  parseDay,
  parseDayRange,
  parseInstant,
  parseInstantRange,
  zonedToUtc,
} from '../../src/core/time.js'

const NBO = 'Africa/Nairobi'
// 2026-11-29 09:00 in Nairobi (UTC+3).
const NOW = new Date('2026-11-29T06:00:00.000Z')
const iso = (d: Date | undefined) => d?.toISOString()

function fails(fn: () => unknown): DshError {
  try {
    fn()
  } catch (e) {
    return e as DshError
  }
  throw new Error('did not throw')
}

describe('instants (--since included, --until excluded)', () => {
  it('YYYY-MM-DD, today and yesterday are the start of that day in the zone', () => {
    expect(iso(parseInstant('2026-11-28', 'since', NBO, NOW))).toBe('2026-11-27T21:00:00.000Z')
    expect(iso(parseInstant('today', 'since', NBO, NOW))).toBe('2026-11-28T21:00:00.000Z')
    expect(iso(parseInstant('yesterday', 'since', NBO, NOW))).toBe('2026-11-27T21:00:00.000Z')
    expect(iso(parseInstant('2026-11-28', 'since', 'UTC', NOW))).toBe('2026-11-28T00:00:00.000Z')
    // Just after midnight UTC it is already the next day in Nairobi.
    const late = new Date('2026-11-28T22:30:00Z')
    expect(iso(parseInstant('today', 'since', NBO, late))).toBe('2026-11-28T21:00:00.000Z')
  })

  it('durations are ago from the injected now', () => {
    expect(iso(parseInstant('7d', 'since', NBO, NOW))).toBe('2026-11-22T06:00:00.000Z')
    expect(iso(parseInstant('24h', 'since', NBO, NOW))).toBe('2026-11-28T06:00:00.000Z')
    expect(iso(parseInstant('30m', 'since', NBO, NOW))).toBe('2026-11-29T05:30:00.000Z')
  })

  it('full ISO times: Z, offsets, and none (the zone’s wall clock)', () => {
    expect(iso(parseInstant('2026-11-28T09:17:00Z', 'since', NBO, NOW))).toBe(
      '2026-11-28T09:17:00.000Z',
    )
    expect(iso(parseInstant('2026-11-28T09:17:00+03:00', 'since', NBO, NOW))).toBe(
      '2026-11-28T06:17:00.000Z',
    )
    expect(iso(parseInstant('2026-11-28T09:17', 'since', NBO, NOW))).toBe(
      '2026-11-28T06:17:00.000Z',
    )
  })

  it('impossible dates and empty values are invalid input (exit 3) naming the field', () => {
    for (const bad of ['2026-02-30', '2026-13-01', '', '  ', 'soon', '2026-11-28T25:00Z']) {
      const e = fails(() => parseInstant(bad, 'since', NBO, NOW))
      expect(e.kind).toBe('validation')
      expect(e.details?.['fields']).toEqual(['since'])
    }
    expect(fails(() => parseInstant('2026-02-30', 'until', NBO, NOW)).message).toBe(
      'until: "2026-02-30" is not a date in the calendar',
    )
    expect(
      fails(() => parseInstantRange({ since: 'today', until: 'yesterday' }, NBO, NOW)).kind,
    ).toBe('validation')
  })
})

describe('days (--date, --from, --to: whole days, --to included)', () => {
  it('names whole days in the zone', () => {
    expect(parseDay('2024-02-29', 'date', NBO, NOW)).toEqual({ year: 2024, month: 2, day: 29 })
    expect(fails(() => parseDay('2026-02-29', 'date', NBO, NOW)).kind).toBe('validation')
    const r = parseDayRange({ from: '2026-11-01', to: '2026-11-30' }, NBO, NOW)
    expect(iso(r?.start)).toBe('2026-10-31T21:00:00.000Z')
    expect(iso(r?.end)).toBe('2026-11-30T21:00:00.000Z')
    const d = parseDayRange({ date: 'yesterday' }, NBO, NOW)
    expect([iso(d?.start), iso(d?.end)]).toEqual([
      '2026-11-27T21:00:00.000Z',
      '2026-11-28T21:00:00.000Z',
    ])
    expect(fails(() => parseDayRange({ date: 'today', from: 'today' }, NBO, NOW)).kind).toBe(
      'usage',
    )
    expect(
      fails(() => parseDayRange({ from: '2026-11-02', to: '2026-11-01' }, NBO, NOW)).kind,
    ).toBe('validation')
  })

  it('handles a DST zone', () => {
    // London changes to BST on 2026-03-29: the day starts at 00:00 GMT.
    expect(iso(zonedToUtc('Europe/London', 2026, 3, 29))).toBe('2026-03-29T00:00:00.000Z')
    expect(iso(zonedToUtc('Europe/London', 2026, 3, 30))).toBe('2026-03-29T23:00:00.000Z')
  })
})

describe('human times', () => {
  it('shows minutes and the zone’s short name, not UTC milliseconds', () => {
    expect(formatLocal('2026-11-29T06:17:14.691Z', NBO)).toBe('2026-11-29 09:17 EAT')
    expect(formatLocal('2026-11-29T06:17:14.691Z', 'Africa/Lagos')).toBe('2026-11-29 07:17 WAT')
    expect(formatLocal('2026-11-29T06:17:14.691Z', 'UTC')).toBe('2026-11-29 06:17 UTC')
    expect(formatLocal(null, NBO)).toBe('')
  })
})
