import { usageError, validationError } from './errors.js'

export const SCHEDULES = ['daily', 'weekly', 'monthly'] as const
export type ScheduleKind = (typeof SCHEDULES)[number]
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const

export interface Schedule {
  kind: ScheduleKind
  /** HH:MM in the branch's time zone. */
  at: string
  weekday: string | null
  /** 1–28 or 'last' (29–31 would skip short months). */
  day: string | null
}

export interface ScheduleInput {
  schedule?: string | undefined
  at?: string | undefined
  weekday?: string | undefined
  day?: string | undefined
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/

/** Validates a settlement schedule over the current one; weekday and day only where they apply. */
export function parseSchedule(input: ScheduleInput, current: Schedule | null): Schedule {
  const kindText = input.schedule ?? current?.kind ?? 'daily'
  if (!(SCHEDULES as readonly string[]).includes(kindText)) {
    throw validationError(
      'invalid_schedule',
      `--schedule "${kindText}" is not one of ${SCHEDULES.join(', ')}`,
    )
  }
  const kind = kindText as ScheduleKind
  const at = input.at ?? current?.at ?? '02:00'
  if (!HHMM.test(at))
    throw validationError(
      'invalid_time',
      `--at "${at}" is not a time`,
      'use 24-hour HH:MM, e.g. 02:00 or 18:30',
    )
  let weekday: string | null = null
  let day: string | null = null
  if (kind === 'weekly') {
    weekday = (input.weekday ?? current?.weekday ?? '').toLowerCase() || null
    if (!weekday)
      throw usageError(
        'missing_flags',
        'a weekly schedule needs --weekday',
        `one of ${WEEKDAYS.join(', ')}`,
      )
    if (!(WEEKDAYS as readonly string[]).includes(weekday))
      throw validationError(
        'invalid_weekday',
        `--weekday "${weekday}" is not one of ${WEEKDAYS.join(', ')}`,
      )
  } else if (input.weekday !== undefined) {
    throw usageError('flag_not_for_schedule', '--weekday applies to --schedule weekly only')
  }
  if (kind === 'monthly') {
    day = (input.day ?? current?.day ?? '').toLowerCase() || null
    if (!day)
      throw usageError('missing_flags', 'a monthly schedule needs --day', 'give 1 to 28, or last')
    if (day !== 'last' && !(/^\d{1,2}$/.test(day) && Number(day) >= 1 && Number(day) <= 28)) {
      throw validationError(
        'invalid_day',
        `--day "${day}" must be 1 to 28 or last`,
        'days 29-31 do not exist in every month; use last',
      )
    }
  } else if (input.day !== undefined) {
    throw usageError('flag_not_for_schedule', '--day applies to --schedule monthly only')
  }
  return { kind, at, weekday, day }
}

/** Holding period in whole hours, 0 to 30 days. */
export function parseHoldingHours(input: string): number {
  if (!/^\d{1,3}$/.test(input.trim()) || Number(input) > 720) {
    throw validationError(
      'invalid_holding_hours',
      `--holding-hours "${input}" must be a whole number of hours from 0 to 720`,
    )
  }
  return Number(input)
}

// Period arithmetic. Pure: every function takes the instant it reasons about ("now" is a
// parameter), and time zones come from Intl (no I/O).

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/

/** Validates a run date `YYYY-MM-DD` (a real calendar day). */
export function parseRunDate(text: string): string {
  const m = DATE.exec(text.trim())
  const y = Number(m?.[1])
  const mo = Number(m?.[2])
  const d = Number(m?.[3])
  if (!m || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) {
    throw validationError(
      'invalid_date',
      `--date "${text}" is not a calendar date`,
      'use YYYY-MM-DD, e.g. 2026-11-30',
    )
  }
  return text.trim()
}

const daysInMonth = (y: number, mo: number) => new Date(Date.UTC(y, mo, 0)).getUTCDate()

const partsCache = new Map<string, Intl.DateTimeFormat>()
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = partsCache.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
    partsCache.set(timeZone, f)
  }
  return f
}

/** The wall-clock fields of an instant in a time zone. */
function wallClock(instant: Date, timeZone: string) {
  const p: Record<string, number> = {}
  for (const part of formatter(timeZone).formatToParts(instant))
    if (part.type !== 'literal') p[part.type] = Number(part.value)
  return {
    y: p['year'] ?? 0,
    mo: p['month'] ?? 1,
    d: p['day'] ?? 1,
    h: p['hour'] ?? 0,
    mi: p['minute'] ?? 0,
    s: p['second'] ?? 0,
  }
}

/** Milliseconds the zone is ahead of UTC at an instant. */
function offsetMs(instant: Date, timeZone: string): number {
  const w = wallClock(instant, timeZone)
  const asUtc = Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s)
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000
}

/** The calendar date (YYYY-MM-DD) of an instant in a time zone. */
export function localDate(instant: Date, timeZone: string): string {
  const w = wallClock(instant, timeZone)
  return `${w.y}-${String(w.mo).padStart(2, '0')}-${String(w.d).padStart(2, '0')}`
}

/** Local wall time (date at HH:MM) in a time zone → the UTC instant. */
export function localToUtc(date: string, at: string, timeZone: string): Date {
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number]
  const [h, mi] = at.split(':').map(Number) as [number, number]
  const guess = Date.UTC(y, mo - 1, d, h, mi)
  const first = guess - offsetMs(new Date(guess), timeZone)
  const second = guess - offsetMs(new Date(first), timeZone)
  return new Date(second)
}

/** date ± days, on the calendar. */
export function addDays(date: string, days: number): string {
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number]
  return new Date(Date.UTC(y, mo - 1, d + days)).toISOString().slice(0, 10)
}

/** Whether a schedule runs on a calendar date (daily: every day; `last`: the month's last day). */
export function isScheduledDay(s: Schedule, date: string): boolean {
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number]
  if (s.kind === 'daily') return true
  if (s.kind === 'weekly') {
    const dow = new Date(Date.UTC(y, mo - 1, d)).getUTCDay() // 0 = Sunday
    return WEEKDAYS[(dow + 6) % 7] === s.weekday
  }
  if (s.day === 'last') return d === daysInMonth(y, mo)
  return d === Number(s.day)
}

/** The cut-off a run for `date` has: that date at the schedule's HH:MM in the zone. */
export const cutoffOf = (s: Schedule, timeZone: string, date: string): Date =>
  localToUtc(date, s.at, timeZone)

/** The latest scheduled cut-off strictly before `t`. */
export function scheduledBefore(s: Schedule, timeZone: string, t: Date): Date {
  let date = localDate(t, timeZone)
  for (let i = 0; i < 400; i++) {
    if (isScheduledDay(s, date)) {
      const c = cutoffOf(s, timeZone, date)
      if (c.getTime() < t.getTime()) return c
    }
    date = addDays(date, -1)
  }
  throw new RangeError('no scheduled cut-off in 400 days')
}

/** The earliest scheduled cut-off strictly after `t`. */
export function scheduledAfter(s: Schedule, timeZone: string, t: Date): Date {
  let date = addDays(localDate(t, timeZone), -1)
  for (let i = 0; i < 400; i++) {
    if (isScheduledDay(s, date)) {
      const c = cutoffOf(s, timeZone, date)
      if (c.getTime() > t.getTime()) return c
    }
    date = addDays(date, 1)
  }
  throw new RangeError('no scheduled cut-off in 400 days')
}

/** Every scheduled cut-off in (from, to], oldest first, at most `limit`. */
export function cutoffsBetween(
  s: Schedule,
  timeZone: string,
  from: Date,
  to: Date,
  limit = 1000,
): Date[] {
  const out: Date[] = []
  let t = from
  while (out.length < limit) {
    const next = scheduledAfter(s, timeZone, t)
    if (next.getTime() > to.getTime()) break
    out.push(next)
    t = next
  }
  return out
}
