import { fieldError } from './errors.js'
import { ZONE_NAMES_FROM, ZONE_NAMES_JSON, ZONE_NAMES_TO } from './zone-names.js'
import { zoneOffsetSource } from './zone-source.js'

/**
 * Local time for people, UTC for machines. Pure functions (the time zone and "now" are arguments)
 * shared by every command that takes days or instants:
 *
 * - days: `--date`, `--from`, `--to` name whole calendar days in a zone (`--to` included);
 * - instants: `--since` (included) and `--until` (excluded) take a full ISO time, `YYYY-MM-DD`
 *   (the start of that day in the zone), `today`, `yesterday`, or `7d`/`24h`/`30m` (ago).
 *
 * Errors are validation errors (exit 3) naming the request field (`since`), which the CLI turns
 * into its flag (`--since`).
 */

export const DEFAULT_TIMEZONE = 'Africa/Nairobi'

/** One line for a command's --help, the same wherever instant flags exist. */
export const INSTANT_HELP =
  'Instants (--since included, --until excluded): a full ISO time (2026-11-29T09:00:00Z or with an offset), YYYY-MM-DD (the start of that day in the branch’s time zone, else the tenant’s), today, yesterday, or 7d / 24h / 30m (ago).'

/** One line for a command's --help, the same wherever day flags exist. */
export const DAY_HELP =
  'Days (--date, --from, --to; --to included): YYYY-MM-DD, today or yesterday, whole days in the branch’s time zone, else the tenant’s.'

export interface Day {
  year: number
  month: number
  day: number
}

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/
const AGO_RE = /^(\d{1,6})\s*(d|h|m)(?:\s+ago)?$/
// Date and time, optional seconds and fraction, and a Z or ±hh:mm offset (or none: local time).
const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/i

const invalid = (field: string, message: string, hint?: string): never => {
  throw fieldError('validation', 'invalid_time', [field], `${field}: ${message}`, hint)
}

const daysInMonth = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate()

function checkDay(field: string, text: string, y: number, m: number, d: number): Day {
  if (m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m))
    invalid(field, `"${text}" is not a date in the calendar`)
  return { year: y, month: m, day: d }
}

/** The quick source's offset in minutes, for the zones and years zone-names.ts lists. */
function quickOffset(zone: string, epochMs: number): number | undefined {
  const source = zoneOffsetSource()
  if (source === undefined || !inZoneNamesYears(epochMs) || zoneEntry(zone) === null)
    return undefined
  return source(zone, epochMs)
}

/** The offset of `zone` from UTC at `instant`, in ms (positive east of Greenwich). */
export function zoneOffsetMs(zone: string, instant: Date): number {
  const quick = quickOffset(zone, instant.getTime())
  if (quick !== undefined) return quick * 60_000
  const parts = intlWallClock(zone, instant)
  const asUtc = Date.UTC(
    parts.year,
    parts.month - 1,
    parts.day,
    parts.hour,
    parts.minute,
    parts.second,
  )
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000
}

const partsCache = new Map<string, Intl.DateTimeFormat>()

/** The wall-clock fields (year … second) of an instant in a time zone. */
export function wallClock(zone: string, instant: Date) {
  const quick = quickOffset(zone, instant.getTime())
  if (quick === undefined) return intlWallClock(zone, instant)
  const t = new Date(Math.floor(instant.getTime() / 1000) * 1000 + quick * 60_000)
  return {
    year: t.getUTCFullYear(),
    month: t.getUTCMonth() + 1,
    day: t.getUTCDate(),
    hour: t.getUTCHours(),
    minute: t.getUTCMinutes(),
    second: t.getUTCSeconds(),
  }
}

function intlWallClock(zone: string, instant: Date) {
  let f = partsCache.get(zone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
    partsCache.set(zone, f)
  }
  const p: Record<string, number> = {}
  for (const x of f.formatToParts(instant)) if (x.type !== 'literal') p[x.type] = Number(x.value)
  return {
    year: p['year'] ?? 0,
    month: p['month'] ?? 0,
    day: p['day'] ?? 0,
    hour: (p['hour'] ?? 0) % 24,
    minute: p['minute'] ?? 0,
    second: p['second'] ?? 0,
  }
}

/** The UTC instant of a wall-clock time in `zone` (the earlier one in a DST overlap). */
export function zonedToUtc(
  zone: string,
  y: number,
  mo: number,
  d: number,
  h = 0,
  mi = 0,
  s = 0,
  ms = 0,
): Date {
  const wall = Date.UTC(y, mo - 1, d, h, mi, s, ms)
  // Two passes settle the offset, also across a DST change.
  let guess = wall - zoneOffsetMs(zone, new Date(wall))
  guess = wall - zoneOffsetMs(zone, new Date(guess))
  return new Date(guess)
}

/**
 * An instant as the zone's wall clock with its offset, to the second:
 * `2026-12-08T03:56:26+03:00` (what a bank file's creation time carries, so nobody reads a UTC
 * time as local).
 */
export function isoWithOffset(zone: string, instant: Date): string {
  const p = wallClock(zone, instant)
  const offsetMin = Math.trunc(zoneOffsetMs(zone, instant) / 60_000)
  const two = (n: number) => String(n).padStart(2, '0')
  const sign = offsetMin < 0 ? '-' : '+'
  const abs = Math.abs(offsetMin)
  return `${formatDay(p)}T${two(p.hour)}:${two(p.minute)}:${two(p.second)}${sign}${two(Math.floor(abs / 60))}:${two(abs % 60)}`
}

/** The calendar day of `instant` in `zone`. */
export function dayIn(zone: string, instant: Date): Day {
  const p = wallClock(zone, instant)
  return { year: p.year, month: p.month, day: p.day }
}

export const startOfDay = (zone: string, day: Day): Date =>
  zonedToUtc(zone, day.year, day.month, day.day)

export function addDays(day: Day, n: number): Day {
  const t = new Date(Date.UTC(day.year, day.month - 1, day.day + n))
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() }
}

export const formatDay = (d: Day): string =>
  `${String(d.year).padStart(4, '0')}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`

/** A day flag: `YYYY-MM-DD`, `today` or `yesterday` (in `zone`). Empty or impossible: exit 3. */
export function parseDay(text: string, field: string, zone: string, now: Date): Day {
  const t = text.trim().toLowerCase()
  if (t === '') return invalid(field, 'is empty', 'give YYYY-MM-DD, today or yesterday')
  if (t === 'today') return dayIn(zone, now)
  if (t === 'yesterday') return addDays(dayIn(zone, now), -1)
  const m = DAY_RE.exec(t)
  if (!m) return invalid(field, `"${text}" is not a day`, 'give YYYY-MM-DD, today or yesterday')
  return checkDay(field, text, Number(m[1]), Number(m[2]), Number(m[3]))
}

/** An instant flag (see the module comment). Empty or impossible: exit 3. */
export function parseInstant(text: string, field: string, zone: string, now: Date): Date {
  const t = text.trim().toLowerCase()
  if (t === '')
    return invalid(
      field,
      'is empty',
      'give an ISO time, YYYY-MM-DD, today, yesterday or 7d/24h/30m',
    )
  if (t === 'today' || t === 'yesterday' || DAY_RE.test(t))
    return startOfDay(zone, parseDay(t, field, zone, now))
  if (t === 'now') return new Date(now.getTime())
  const ago = AGO_RE.exec(t)
  if (ago) {
    const n = Number(ago[1])
    const unit = ago[2] === 'd' ? 86_400_000 : ago[2] === 'h' ? 3_600_000 : 60_000
    return new Date(now.getTime() - n * unit)
  }
  const iso = ISO_RE.exec(text.trim())
  if (!iso)
    return invalid(
      field,
      `"${text}" is not a time`,
      'give an ISO time (2026-11-29T09:00:00Z), YYYY-MM-DD, today, yesterday or 7d/24h/30m',
    )
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(iso[i] ?? 0)) as DateTimeParts
  checkDay(field, text, y, mo, d)
  if (h > 23 || mi > 59 || s > 59) invalid(field, `"${text}" is not a time of day`)
  const ms = Number((iso[7] ?? '').padEnd(3, '0').slice(0, 3) || 0)
  const offset = iso[8]
  if (!offset) return zonedToUtc(zone, y, mo, d, h, mi, s, ms)
  const wall = Date.UTC(y, mo - 1, d, h, mi, s, ms)
  if (offset.toUpperCase() === 'Z') return new Date(wall)
  const om = /^([+-])(\d{2}):?(\d{2})$/.exec(offset)
  const sign = om?.[1] === '-' ? -1 : 1
  const offMin = Number(om?.[2]) * 60 + Number(om?.[3])
  if (offMin > 14 * 60) invalid(field, `"${text}" has an impossible offset`)
  return new Date(wall - sign * offMin * 60_000)
}

/** A date and time of day as numbers, as read from a text. */
export type DateTimeParts = [
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
]

export interface InstantRange {
  /** Included. */
  since?: Date | undefined
  /** Excluded. */
  until?: Date | undefined
}

/** `since`/`until` of a request; `until` must be after `since`. */
export function parseInstantRange(
  input: { since?: string | undefined; until?: string | undefined },
  zone: string,
  now: Date,
): InstantRange {
  const since =
    input.since === undefined ? undefined : parseInstant(input.since, 'since', zone, now)
  const until =
    input.until === undefined ? undefined : parseInstant(input.until, 'until', zone, now)
  if (since && until && until.getTime() <= since.getTime())
    invalid(
      'until',
      'must be after since',
      'until is excluded: --since today --until tomorrow’s date',
    )
  return { since, until }
}

export interface DayRange {
  /** Start of the first day (included); absent with `to` alone. */
  start?: Date | undefined
  /** Start of the day after the last (excluded); absent with `from` alone. */
  end?: Date | undefined
}

/**
 * `date` (one day) or `from`/`to` (both included) as whole days in `zone`; `from` alone has no
 * end and `to` alone no start. Undefined when none is given.
 */
export function parseDayRange(
  input: { date?: string | undefined; from?: string | undefined; to?: string | undefined },
  zone: string,
  now: Date,
): DayRange | undefined {
  if (input.date !== undefined && (input.from !== undefined || input.to !== undefined))
    throw fieldError('usage', 'conflicting_flags', ['date'], 'give date, or from/to, not both')
  if (input.date !== undefined) {
    const day = parseDay(input.date, 'date', zone, now)
    return { start: startOfDay(zone, day), end: startOfDay(zone, addDays(day, 1)) }
  }
  if (input.from === undefined && input.to === undefined) return undefined
  const first = input.from !== undefined ? parseDay(input.from, 'from', zone, now) : undefined
  const last = input.to !== undefined ? parseDay(input.to, 'to', zone, now) : undefined
  if (first && last && formatDay(last) < formatDay(first))
    invalid('to', `${formatDay(last)} is before from ${formatDay(first)}`)
  return {
    start: first ? startOfDay(zone, first) : undefined,
    end: last ? startOfDay(zone, addDays(last, 1)) : undefined,
  }
}

const abbrevCache = new Map<string, Intl.DateTimeFormat[]>()

const zoneEntries = new Map<string, Record<string, string> | null>()

/** A zone's names by offset from zone-names.ts (null: not listed), reading only its own entry. */
function zoneEntry(zone: string): Record<string, string> | null {
  let entry = zoneEntries.get(zone)
  if (entry !== undefined) return entry
  const key = `${JSON.stringify(zone)}:{`
  const at = ZONE_NAMES_JSON.indexOf(key)
  entry =
    at < 0
      ? null
      : (JSON.parse(
          ZONE_NAMES_JSON.slice(at + key.length - 1, ZONE_NAMES_JSON.indexOf('}', at) + 1),
        ) as Record<string, string>)
  zoneEntries.set(zone, entry)
  return entry
}

/** Whether `zone` is one of ICU's canonical zone names (the ones zone-names.ts lists). */
export const knownZone = (zone: string): boolean => zoneEntry(zone) !== null

const inZoneNamesYears = (epochMs: number): boolean =>
  epochMs >= ZONE_NAMES_FROM && epochMs < ZONE_NAMES_TO

/** The zone's short name at `instant`: `EAT`, `WAT`, `GMT`, else `GMT+3`-style. */
export function zoneAbbreviation(zone: string, instant: Date): string {
  const quick = quickOffset(zone, instant.getTime())
  if (quick !== undefined) {
    const name = zoneEntry(zone)?.[String(quick)]
    if (name !== undefined) return name
  }
  let fs = abbrevCache.get(zone)
  if (!fs) {
    fs = ['en-KE', 'en-US'].map(
      (loc) => new Intl.DateTimeFormat(loc, { timeZone: zone, timeZoneName: 'short' }),
    )
    abbrevCache.set(zone, fs)
  }
  let fallback = ''
  for (const f of fs) {
    const name = f.formatToParts(instant).find((p) => p.type === 'timeZoneName')?.value ?? ''
    if (!fallback) fallback = name
    if (name && !/^(GMT|UTC)[+-−]/.test(name)) return name
  }
  return fallback || zone
}

/** A stored ISO-8601 UTC time for people: `2026-11-29 09:17 EAT` in `zone`. */
export function formatLocal(iso: string | Date | null | undefined, zone: string): string {
  if (iso === null || iso === undefined || iso === '') return ''
  const instant = typeof iso === 'string' ? new Date(iso) : iso
  if (Number.isNaN(instant.getTime())) return String(iso)
  const p = wallClock(zone, instant)
  const two = (n: number) => String(n).padStart(2, '0')
  return `${formatDay(p)} ${two(p.hour)}:${two(p.minute)} ${zoneAbbreviation(zone, instant)}`
}

/**
 * Times for a table column: the zone's short name goes once into the header (`Created (EAT)`)
 * and each cell shows `2026-11-29 09:17`, unless a cell's instant has another name (a DST
 * change), which then keeps it.
 */
export function localColumn(header: string, zone: string, now: Date) {
  const abbr = zoneAbbreviation(zone, now)
  return {
    header: `${header} (${abbr})`,
    cell(iso: string | null | undefined): string {
      const full = formatLocal(iso, zone)
      return full.endsWith(` ${abbr}`) ? full.slice(0, -abbr.length - 1) : full
    },
  }
}
