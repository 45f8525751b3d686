import { afterEach, describe, expect, it } from 'vitest'
import {
  quickZoneAnswers,
  quickZones,
  stopQuickZones,
  useQuickZones,
} from '../../src/cli/quick-zones.js'
import {
  formatLocal,
  knownZone,
  wallClock,
  zoneAbbreviation,
  zoneOffsetMs,
} from '../../src/core/time.js'
import { ZONE_NAMES_FROM, ZONE_NAMES_JSON, ZONE_NAMES_TO } from '../../src/core/zone-names.js'
import { setZoneOffsetSource, zoneOffsetSource } from '../../src/core/zone-source.js'

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
 * Sampled days over the years the quick source is asked for (2020–2035, zone-names.ts) rather than
 * every hour (140,000 an hour a zone): the first and last second, every SAMPLE days at an hour that
 * moves round the clock, and, in a zone whose offset changes (by those days or by its names in the
 * table), both sides of every change, found by Intl every SCAN days and bisected to the minute.
 */
const SAMPLE = 128 * DAY
const SCAN = 16 * DAY
const HOUR = 3_600_000
const MINUTE = 60_000
const DAYS = Array.from(
  { length: Math.floor((ZONE_NAMES_TO - ZONE_NAMES_FROM) / SAMPLE) },
  (_, k) => ZONE_NAMES_FROM + k * SAMPLE + ((k * 7) % 24) * HOUR + 30 * MINUTE,
)
const NAMES = JSON.parse(ZONE_NAMES_JSON) as Record<string, Record<string, string>>

/** Intl's offset (no quick source set). */
const intlOffset = (zone: string, t: number) => zoneOffsetMs(zone, new Date(t))

function instants(zone: string): Date[] {
  setZoneOffsetSource(undefined)
  const out = [ZONE_NAMES_FROM, ...DAYS, ZONE_NAMES_TO - 1000]
  const offsets = new Set(out.map((t) => intlOffset(zone, t)))
  if (offsets.size > 1 || Object.keys(NAMES[zone] ?? {}).length > 1) out.push(...changes(zone))
  return out.sort((a, b) => a - b).map((t) => new Date(t))
}

/** The last second before each of the zone's offset changes, and the change's first second. */
function changes(zone: string): number[] {
  const out: number[] = []
  let prev = intlOffset(zone, ZONE_NAMES_FROM)
  for (let t = ZONE_NAMES_FROM + SCAN; t < ZONE_NAMES_TO; t += SCAN) {
    const off = intlOffset(zone, t)
    if (off === prev) continue
    let lo = t - SCAN
    let hi = t
    while (hi - lo > MINUTE) {
      const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE
      if (intlOffset(zone, mid) === prev) lo = mid
      else hi = mid
    }
    out.push(hi - 1000, hi)
    prev = off
  }
  return out
}

/**
 * Zones whose offsets disagree between the source `install` sets and Intl, with the first
 * instant; and how many instants were compared. Each instant asks the source once: offset, wall
 * clock and short name all come from that one answer (TZ switches are the slow part).
 */
function disagreements(install: () => void, zones = ZONES) {
  const bad: string[] = []
  let compared = 0
  for (const zone of zones) {
    for (const at of instants(zone)) {
      const want = reference(zone, at)
      install()
      const source = zoneOffsetSource()
      let asked: number | undefined
      setZoneOffsetSource((z, ms) => (asked ??= source?.(z, ms)))
      const got = quick(zone, at)
      compared++
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        bad.push(`${zone} at ${at.toISOString()}: ${JSON.stringify(got)} ≠ ${JSON.stringify(want)}`)
        break
      }
    }
  }
  return { bad, compared }
}

afterEach(() => stopQuickZones())

describe('quick zone lookups (the CLI skips ICU formatter start-up)', () => {
  it('give the offset, wall clock and short name Intl gives, for every zone, 2020–2035, across DST changes', () => {
    expect(ZONES.length).toBeGreaterThan(400)
    const before = quickZoneAnswers()
    const { bad, compared } = disagreements(() => useQuickZones(Number.POSITIVE_INFINITY))
    expect(bad).toEqual([])
    // The quick source answered every one of them: a source that always declined (so Intl
    // answered both sides) would agree everywhere and fail only here.
    expect(compared).toBeGreaterThan(ZONES.length * 60)
    expect(quickZoneAnswers() - before).toBe(compared)
    // About 2.5 s of CPU (28,000 instants); 12 s at a load of 18 on 2 cores.
  }, 45_000)

  it('control: a source that ignores summer time is caught', () => {
    // The offset each zone has on 1 January, whatever the date: wrong wherever clocks change.
    const winter = (zone: string) => {
      setZoneOffsetSource(undefined)
      return zoneOffsetMs(zone, new Date(Date.UTC(2026, 0, 1))) / 60_000
    }
    const { bad } = disagreements(
      () => setZoneOffsetSource((zone) => winter(zone)),
      ['Africa/Nairobi', 'Europe/London', 'America/New_York', 'Asia/Kolkata'],
    )
    expect(bad.map((b) => b.slice(0, b.indexOf(':')))).toEqual([
      'Europe/London at 2020-03-29T01',
      'America/New_York at 2020-03-08T07',
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
