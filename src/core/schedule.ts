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
