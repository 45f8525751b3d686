import { validationError } from '../core/errors.js'

/** An alert threshold: set with `dsh config set alert-<name> <value>`, read by `dsh health`. */
export interface Threshold {
  name: string
  /** The settings key. */
  key: string
  default: number
  help: string
  /** The smallest value that makes sense. */
  min: number
  max: number
}

export const THRESHOLDS: readonly Threshold[] = [
  {
    name: 'alert-success-rate',
    key: 'alert_success_rate',
    default: 80,
    min: 0,
    max: 100,
    help: 'alert when a branch’s success rate today is below this percentage (default 80)',
  },
  {
    name: 'alert-min-payments',
    key: 'alert_min_payments',
    default: 10,
    min: 1,
    max: 1_000_000,
    help: 'final payments a branch needs today before its success rate can alert (default 10)',
  },
  {
    name: 'alert-processing-seconds',
    key: 'alert_processing_seconds',
    default: 120,
    min: 1,
    max: 86_400,
    help: 'alert when succeeded payments take longer than this on average today (default 120 s)',
  },
  {
    name: 'alert-recovery-overdue',
    key: 'alert_recovery_overdue',
    default: 20,
    min: 0,
    max: 1_000_000,
    help: 'alert when more open payments than this are overdue for a recovery check (default 20)',
  },
  {
    name: 'alert-inbox-depth',
    key: 'alert_inbox_depth',
    default: 500,
    min: 0,
    max: 10_000_000,
    help: 'alert when more callbacks than this wait to be processed (default 500)',
  },
  {
    name: 'alert-kyc-amount',
    key: 'alert_kyc_amount',
    default: 1_000_000,
    min: 1,
    max: 1_000_000_000_000,
    help: 'compliance: flag a payment today of at least this many major units of its currency (default 1,000,000)',
  },
  {
    name: 'alert-phone-burst',
    key: 'alert_phone_burst',
    default: 5,
    min: 2,
    max: 10_000,
    help: 'compliance: flag a phone paying this many times within alert-phone-window minutes (default 5)',
  },
  {
    name: 'alert-phone-window',
    key: 'alert_phone_window',
    default: 10,
    min: 1,
    max: 1_440,
    help: 'compliance: the window of alert-phone-burst, in minutes (default 10)',
  },
  {
    name: 'alert-backup-hours',
    key: 'alert_backup_hours',
    default: 36,
    min: 1,
    max: 10_000,
    help: 'alert when the newest backup is older than this many hours, once one exists (default 36)',
  },
]

/** A whole number within the threshold's range. */
export function parseThreshold(t: Threshold, v: string): string {
  if (!/^\d{1,13}$/.test(v) || Number(v) < t.min || Number(v) > t.max)
    throw validationError(
      'invalid_threshold',
      `${t.name} "${v.slice(0, 40)}" must be a whole number from ${t.min} to ${t.max}`,
    )
  return String(Number(v))
}
