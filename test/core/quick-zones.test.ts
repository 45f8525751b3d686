import { afterEach, describe, expect, it } from 'vitest'
import { quickZones, stopQuickZones, useQuickZones } from '../../src/cli/quick-zones.js'
import {
  formatLocal,
  knownZone,
  wallClock,
  zoneAbbreviation,
  zoneOffsetMs,
} from '../../src/core/time.js'
import { ZONE_NAMES_JSON } from '../../src/core/zone-names.js'
import { setZoneOffsetSource } from '../../src/core/zone-source.js'

const ZONES = Object.keys(JSON.parse(ZONE_NAMES_JSON) as Record<string, unknown>)
const DAY = 86_400_000

/** What Intl says, with no quick source: the reference. */
function reference(zone: string, instant: Date) {
  setZoneOffsetSource(undefined)
  return {
    offset: zoneOffsetMs(zone, instant),
    wall: wallClock(zone, instant),
    name: zoneAbbreviation(zone, instant),
  }
}
function quick(zone: string, instant: Date) {
  return {
    offset: zoneOffsetMs(zone, instant),
    wall: wallClock(zone, instant),
    name: zoneAbbreviation(zone, instant),
  }
}

/**
 * Instants over 2026–2027 every 9 days at 00:30 UTC, plus both sides of every offset change
 * found between them (to the second), where a wrong rule would show first.
 */
function instants(zone: string): Date[] {
  setZoneOffsetSource(undefined)
  const out: Date[] = []
  let prev: number | undefined
  for (let t = Date.UTC(2026, 0, 1, 0, 30); t < Date.UTC(2028, 0, 1); t += 9 * DAY) {
    const off = zoneOffsetMs(zone, new Date(t))
    if (prev !== undefined && off !== prev) {
      let lo = t - 9 * DAY
      let hi = t
      while (hi - lo > 1000) {
        const mid = lo + Math.floor((hi - lo) / 2000) * 1000
        if (zoneOffsetMs(zone, new Date(mid)) === prev) lo = mid
        else hi = mid
      }
      out.push(new Date(lo), new Date(hi))
    }
    prev = off
    out.push(new Date(t))
  }
  return out
}

/** Zones whose offsets disagree between the source in use and Intl, with the first instant. */
function disagreements(install: () => void, zones = ZONES): string[] {
  const bad: string[] = []
  for (const zone of zones) {
    for (const at of instants(zone)) {
      const want = reference(zone, at)
      install()
      const got = quick(zone, at)
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        bad.push(`${zone} at ${at.toISOString()}: ${JSON.stringify(got)} ≠ ${JSON.stringify(want)}`)
        break
      }
    }
  }
  return bad
}

afterEach(() => stopQuickZones())

describe('quick zone lookups (the CLI skips ICU formatter start-up)', () => {
  it('give the offset, wall clock and short name Intl gives, for every zone, across DST changes', () => {
    expect(ZONES.length).toBeGreaterThan(400)
    expect(disagreements(() => useQuickZones(Number.POSITIVE_INFINITY))).toEqual([])
  })

  it('control: a source that ignores summer time is caught', () => {
    // The offset each zone has on 1 January, whatever the date: wrong wherever clocks change.
    const winter = (zone: string) => {
      setZoneOffsetSource(undefined)
      return zoneOffsetMs(zone, new Date(Date.UTC(2026, 0, 1))) / 60_000
    }
    const bad = disagreements(
      () => setZoneOffsetSource((zone) => winter(zone)),
      ['Africa/Nairobi', 'Europe/London', 'America/New_York', 'Asia/Kolkata'],
    )
    expect(bad.map((b) => b.slice(0, b.indexOf(':')))).toEqual([
      'Europe/London at 2026-03-29T01',
      'America/New_York at 2026-03-08T07',
    ])
  })

  it('leave TZ as it was, set or unset', () => {
    const saved = process.env['TZ']
    try {
      delete process.env['TZ']
      useQuickZones(10)
      expect(formatLocal('2026-11-29T06:17:00Z', 'Africa/Nairobi')).toBe('2026-11-29 09:17 EAT')
      expect('TZ' in process.env).toBe(false)
      expect(new Date(Date.UTC(2026, 6, 1)).getTimezoneOffset()).toBe(
        reference('UTC', new Date()).offset,
      )
      process.env['TZ'] = 'Asia/Tokyo'
      expect(formatLocal('2026-07-01T12:00:00Z', 'Europe/London')).toBe('2026-07-01 13:00 GMT+1')
      expect(process.env['TZ']).toBe('Asia/Tokyo')
      expect(new Date(Date.UTC(2026, 6, 1)).getTimezoneOffset()).toBe(-540)
    } finally {
      if (saved === undefined) delete process.env['TZ']
      else process.env['TZ'] = saved
    }
  })

  it("are asked only for canonical zone names in the table's years, and only up to the limit", () => {
    const asked: string[] = []
    const source = quickZones(2)
    setZoneOffsetSource((zone, ms) => {
      asked.push(zone)
      return source(zone, ms)
    })
    expect(knownZone('Africa/Nairobi')).toBe(true)
    expect(knownZone('africa/nairobi')).toBe(false)
    // Lower case, an alias, 1990, 2036, an unknown name: Intl answers, as before.
    expect(formatLocal('2026-11-29T06:17:00Z', 'africa/nairobi')).toBe('2026-11-29 09:17 EAT')
    expect(formatLocal('2026-01-01T00:00:00Z', 'Asia/Kolkata')).toBe('2026-01-01 05:30 GMT+5:30')
    expect(wallClock('Africa/Nairobi', new Date('1990-01-01T00:00:00Z')).hour).toBe(3)
    expect(wallClock('Africa/Nairobi', new Date('2036-01-01T00:00:00Z')).hour).toBe(3)
    expect(() => wallClock('Mars/Olympus', new Date())).toThrow(RangeError)
    expect(asked).toEqual([])
    // Two lookups through TZ, then Intl.
    const nov = new Date(Date.UTC(2026, 10, 29))
    expect([1, 2, 3].map(() => zoneOffsetMs('Africa/Lagos', nov))).toEqual([
      3_600_000, 3_600_000, 3_600_000,
    ])
    expect(asked).toEqual(['Africa/Lagos', 'Africa/Lagos', 'Africa/Lagos'])
    expect(source('Africa/Lagos', nov.getTime())).toBeUndefined()
  })
})

describe('quick zone lookups on a worker thread', () => {
  // The built module (npm run build): a worker thread does not take vitest's TypeScript loader.
  it('are never made: a worker’s TZ is a copy its Date ignores, so Intl answers', async () => {
    const { Worker } = await import('node:worker_threads')
    const script = `
      const { parentPort } = require('node:worker_threads')
      import(${JSON.stringify(new URL('../../dist/src/cli/quick-zones.js', import.meta.url).href)}).then((q) => {
        parentPort.postMessage(q.quickZones(10)('Asia/Tokyo', Date.UTC(2026, 0, 1)) ?? 'declined')
      })`
    const answer = await new Promise((resolve, reject) => {
      const w = new Worker(script, { eval: true })
      w.once('message', resolve)
      w.once('error', reject)
    })
    expect(answer).toBe('declined')
  })
})
