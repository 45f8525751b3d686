import { isMainThread } from 'node:worker_threads'
import { setZoneOffsetSource, type ZoneOffsetSource } from '../core/zone-source.js'

/** Past this many, a cached Intl formatter is cheaper than re-reading TZ (~16 µs a lookup). */
const LIMIT = 256

/** Lookups a quick source answered (not declined), over the process: read by tests only. */
let answered = 0
export const quickZoneAnswers = (): number => answered

/**
 * Zone offsets (minutes) for a short command's first `limit` conversions, from
 * `new Date().getTimezoneOffset()` under TZ=zone (~0.1 ms for the first) instead of an Intl
 * formatter (~14 ms of ICU start-up for the first, a sixth of `dsh payments list`). Both read the
 * same ICU data: test/core/quick-zones.test.ts compares them for every zone. src/core/time.ts
 * asks only for ICU's canonical zone names (TZ quietly means UTC for a name it does not know) in
 * the years zone-names.ts covers. TZ is put back as it was. Main thread only (a worker's TZ is a
 * copy its Date ignores), and not for the daemon: its worker threads share ICU's default zone,
 * which each TZ assignment resets.
 */
export function quickZones(limit = LIMIT): ZoneOffsetSource {
  let left = isMainThread ? limit : 0
  return (zone, epochMs) => {
    if (left <= 0) return undefined
    left--
    const env = process.env
    const saved = env['TZ']
    env['TZ'] = zone
    try {
      const offset = -new Date(epochMs).getTimezoneOffset()
      answered++
      return offset
    } finally {
      if (saved === undefined) delete env['TZ']
      else env['TZ'] = saved
    }
  }
}

export function useQuickZones(limit = LIMIT): void {
  setZoneOffsetSource(quickZones(limit))
}

export function stopQuickZones(): void {
  setZoneOffsetSource(undefined)
}
