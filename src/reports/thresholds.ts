import { validationError } from '../core/errors.js'
import { currency } from '../core/money/currency.js'

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
    help: 'compliance: flag a payment today of at least this many major units of its currency (default 1,000,000 for every currency: KES and UGX alike); per currency: KES:1000000,UGX:3700000 (a bare number is for the currencies not named)',
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

/** A whole number within the threshold's range (the KYC amount may be given per currency). */
export function parseThreshold(t: Threshold, v: string): string {
  if (t.name === KYC) return formatKyc(parseKyc(t, v))
  if (!/^\d{1,13}$/.test(v) || Number(v) < t.min || Number(v) > t.max)
    throw validationError(
      'invalid_threshold',
      `${t.name} "${v.slice(0, 40)}" must be a whole number from ${t.min} to ${t.max}`,
    )
  return String(Number(v))
}

const KYC = 'alert-kyc-amount'

/** The KYC amount in major units: per currency, and for every other currency. */
export interface KycAmounts {
  fallback: bigint
  byCurrency: ReadonlyMap<string, bigint>
}

/**
 * `1000000`, `KES:1000000,UGX:3700000` or `2000000,UGX:3700000`: a bare number is the amount
 * of every currency without its own (default 1,000,000), a `CUR:amount` that currency's.
 */
export function parseKyc(t: Threshold, v: string): KycAmounts {
  const byCurrency = new Map<string, bigint>()
  let fallback: bigint | undefined
  const bad = (why: string) =>
    validationError(
      'invalid_threshold',
      `${t.name} "${v.slice(0, 60)}": ${why}`,
      'e.g. 1000000, or per currency KES:1000000,UGX:3700000 (a bare number for the currencies not named)',
    )
  const whole = (n: string) => {
    if (!/^\d{1,13}$/.test(n) || Number(n) < t.min || Number(n) > t.max)
      throw bad(`"${n.slice(0, 20)}" must be a whole number from ${t.min} to ${t.max}`)
    return BigInt(n)
  }
  for (const part of v.split(',').map((x) => x.trim())) {
    const m = /^([A-Za-z]{3}):(.*)$/.exec(part)
    if (!m) {
      if (fallback !== undefined) throw bad('more than one bare number')
      fallback = whole(part)
      continue
    }
    let code: string
    try {
      code = currency(m[1] as string).code
    } catch {
      throw bad(`unknown currency ${m[1]}`)
    }
    if (byCurrency.has(code)) throw bad(`${code} given twice`)
    byCurrency.set(code, whole((m[2] as string).trim()))
  }
  return { fallback: fallback ?? BigInt(kycDefault(t)), byCurrency }
}

const kycDefault = (t: Threshold) => t.default

/** The stored form: the bare number alone as before, else the bare number then CUR:amount sorted. */
export function formatKyc(k: KycAmounts): string {
  if (k.byCurrency.size === 0) return k.fallback.toString()
  const named = [...k.byCurrency].sort(([a], [b]) => (a < b ? -1 : 1)).map(([c, n]) => `${c}:${n}`)
  return [k.fallback.toString(), ...named].join(',')
}

/** The KYC amounts a stored setting holds (the default when unset). */
export function kycAmounts(stored: string | undefined): KycAmounts {
  const t = THRESHOLDS.find((x) => x.name === KYC) as Threshold
  return stored === undefined
    ? { fallback: BigInt(t.default), byCurrency: new Map() }
    : parseKyc(t, stored)
}

/** The amount (major units) at which a payment in `code` is flagged. */
export const kycAmountFor = (k: KycAmounts, code: string): bigint =>
  k.byCurrency.get(code) ?? k.fallback
