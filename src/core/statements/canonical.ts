import { createHash, hash } from 'node:crypto'
import { DshError, isDshError } from '../errors.js'
import { currency as currencyOf, parseAmount } from '../money/index.js'
import { MAX_MINOR } from '../money/parse.js'
import { wallClock } from '../time.js'
import {
  type ColumnKey,
  MAX_REFERENCE_LENGTH,
  MPESA_RECEIPT,
  type StatementProfile,
} from './profile.js'

/** A statement line in canonical form: UTC time, signed minor units (credit > 0), one reference. */
export interface CanonicalRow {
  /** 1-based line of the file the row ends on. */
  line: number
  bookedAt: string
  valueDate: string | null
  amountMinor: bigint
  currency: string
  /** The profile's transaction-id column (M-Pesa: Receipt No.), or null. */
  transactionId: string | null
  /** The transaction id when mapped, else the reference the profile extracts. */
  reference: string
  /**
   * The reference the fingerprint keys on, when it differs from `reference`: a deposit reference
   * (`CASH-…`) is read out of a cell that keyed the line before deposits were read, and the
   * fingerprint must not change (re-importing an old statement adds nothing).
   */
  keyReference?: string
  description: string
  counterparty: string
  balanceMinor: bigint | null
  /** false when a status column says the transaction did not complete (e.g. M-Pesa `Failed`). */
  completed: boolean
}

/** A cell that cannot be read: its 1-based column and what was expected. */
export class RowError extends Error {
  constructor(
    readonly column: number,
    message: string,
  ) {
    super(message)
  }
}

// ---------------------------------------------------------------------------------------------
// dates

interface CompiledFormat {
  re: RegExp
  /** The capture group of each token (0: absent). */
  y: number
  mo: number
  d: number
  h: number
  mi: number
  s: number
}
/** `s` as a regular expression that matches it literally. */
const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

const formatCache = new Map<string, CompiledFormat>()

function compileFormat(f: string): CompiledFormat {
  let c = formatCache.get(f)
  if (c) return c
  const order: string[] = []
  const pattern = literal(f).replace(/yyyy|mm|dd|HH|MM|SS/g, (t) => {
    order.push(t)
    return t === 'yyyy' ? '(\\d{4})' : '(\\d{1,2})'
  })
  const at = (t: string) => order.indexOf(t) + 1
  c = {
    re: new RegExp(`^${pattern}$`),
    y: at('yyyy'),
    mo: at('mm'),
    d: at('dd'),
    h: at('HH'),
    mi: at('MM'),
    s: at('SS'),
  }
  formatCache.set(f, c)
  return c
}

/** Per time zone, the offset at each UTC hour met so far. */
const offsetCache = new Map<string, Map<number, number>>()

/** Minutes east of UTC of `timeZone` at the UTC instant `ms`. */
function offsetMinutes(timeZone: string, ms: number): number {
  if (timeZone === 'UTC') return 0
  let zone = offsetCache.get(timeZone)
  if (!zone) {
    zone = new Map()
    offsetCache.set(timeZone, zone)
  }
  const key = Math.floor(ms / 3_600_000)
  const cached = zone.get(key)
  if (cached !== undefined) return cached
  const w = wallClock(timeZone, new Date(ms))
  const local = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second)
  // Whole seconds on both sides, so the difference is a whole number of minutes.
  const off = Math.trunc((local - Math.floor(ms / 1000) * 1000) / 60_000)
  if (zone.size > 100_000) zone.clear()
  zone.set(key, off)
  return off
}

/** The UTC instant of a wall-clock time in `timeZone`. */
export function zonedToUtc(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  timeZone: string,
): number {
  const asUtc = Date.UTC(y, mo - 1, d, h, mi, s)
  let ms = asUtc - offsetMinutes(timeZone, asUtc) * 60_000
  ms = asUtc - offsetMinutes(timeZone, ms) * 60_000
  return ms
}

export interface ParsedDate {
  ms: number
  /** yyyy-mm-dd as written. */
  day: string
}

/**
 * Reads a date (and time) written in one of `formats` (tokens yyyy mm dd HH MM SS; lower-case mm
 * is the month, upper-case MM the minutes) as wall-clock time in `timeZone`. The first format that
 * fits wins; an impossible date (31-02-2026, 25:00) is an error, never rolled over.
 */
export function parseStatementDate(
  text: string,
  formats: readonly string[],
  timeZone: string,
): ParsedDate {
  const ms = parseDateMs(text, formats, timeZone)
  return { ms, day: lastDay }
}

/** Days in month `mo` (1–12) of year `y`, as Date.UTC counts them (years 0–99 are 1900–1999). */
function daysIn(y: number, mo: number): number {
  if (mo !== 2) return MONTH_DAYS[mo] ?? 0
  const yy = y >= 0 && y <= 99 ? 1900 + y : y
  return yy % 4 === 0 && (yy % 100 !== 0 || yy % 400 === 0) ? 29 : 28
}
const MONTH_DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/** The years a statement date may be in. */
const MIN_YEAR = 2000
const MAX_YEAR = 2100

/** The yyyy-mm-dd of the last date parseDateMs read (built only when asked for). */
let lastDay = ''

/** parseStatementDate's instant alone (the hot path of an import: no day text unless asked). */
function parseDateMs(
  text: string,
  formats: readonly string[],
  timeZone: string,
  withDay = true,
): number {
  const t = text.trim()
  for (const f of formats) {
    const c = compileFormat(f)
    const m = c.re.exec(t)
    if (!m) continue
    const y = c.y === 0 ? 0 : Number(m[c.y])
    const mo = c.mo === 0 ? 1 : Number(m[c.mo])
    const d = c.d === 0 ? 1 : Number(m[c.d])
    const h = c.h === 0 ? 0 : Number(m[c.h])
    const mi = c.mi === 0 ? 0 : Number(m[c.mi])
    const s = c.s === 0 ? 0 : Number(m[c.s])
    if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59)
      throw new Error(`"${text}" is not a real date/time (${f})`)
    // A statement of this century: year 0026 is a typo (Date.UTC would read it as 1926), and a
    // year past 2100 one too.
    if (y < MIN_YEAR || y > MAX_YEAR)
      throw new Error(`"${text}" is not between ${MIN_YEAR}-01-01 and ${MAX_YEAR}-12-31`)
    if (withDay)
      lastDay = `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`
    return zonedToUtc(y, mo, d, h, mi, s, timeZone)
  }
  throw new Error(`"${text}" is not a date in the format ${formats.join(' or ')}`)
}

// ---------------------------------------------------------------------------------------------
// amounts

const plainAmounts = new Map<string, RegExp>()
let lastMarks: { decimalMark: string; thousandsMark: string; re: RegExp } | undefined
/** Digits with thousands marks between groups of three (not starting with 0), and decimals. */
function plainAmount(decimalMark: string, thousandsMark: string): RegExp {
  if (lastMarks?.decimalMark === decimalMark && lastMarks.thousandsMark === thousandsMark)
    return lastMarks.re
  const key = `${decimalMark}|${thousandsMark}`
  let re = plainAmounts.get(key)
  if (!re) {
    const grouped =
      thousandsMark === '' ? '(?!)' : `[1-9]\\d{0,2}(?:${literal(thousandsMark)}\\d{3})+`
    re = new RegExp(`^(?:(${grouped})|(\\d+))(?:${literal(decimalMark)}(\\d+))?$`)
    plainAmounts.set(key, re)
  }
  lastMarks = { decimalMark, thousandsMark, re }
  return re
}

/** A currency's exponent by its code as written (what currencyOf(code).exponent gives). */
const exponents = new Map<string, number>()
function exponentOf(code: string): number {
  let e = exponents.get(code)
  if (e === undefined) {
    e = currencyOf(code).exponent
    exponents.set(code, e)
  }
  return e
}

/**
 * Reads a statement amount into signed minor units: thousands marks only between groups of
 * three, the profile's decimal mark, `-x`, `x-`, `+x` or `(x)`. More decimals than the currency
 * has is an error (3 decimals in KES, any in UGX), never rounded. Empty is null.
 */
export function parseStatementAmount(
  text: string,
  marks: { decimalMark: string; thousandsMark: string },
  code: string,
): bigint | null {
  let t = text.trim()
  if (t === '') return null
  let negative = false
  if (t.startsWith('(') && t.endsWith(')')) {
    negative = true
    t = t.slice(1, -1).trim()
  }
  if (t.endsWith('-')) {
    negative = !negative
    t = t.slice(0, -1).trim()
  }
  if (t.startsWith('-')) {
    negative = !negative
    t = t.slice(1).trim()
  } else if (t.startsWith('+')) t = t.slice(1).trim()
  const { decimalMark, thousandsMark } = marks
  // The common case in one expression; anything else (too many decimals, misplaced marks, too
  // large) takes the checks below, which name what is wrong.
  const fast = plainAmount(decimalMark, thousandsMark).exec(t)
  if (fast) {
    const exponent = exponentOf(code)
    const fraction = fast[3] ?? ''
    if (fraction.length <= exponent) {
      const whole =
        fast[1] === undefined ? (fast[2] as string) : fast[1].split(thousandsMark).join('')
      const minor = BigInt(whole + fraction.padEnd(exponent, '0'))
      if (minor <= MAX_MINOR) return negative ? -minor : minor
    }
  }
  const cut = t.lastIndexOf(decimalMark)
  const whole = cut < 0 ? t : t.slice(0, cut)
  const fraction = cut < 0 ? '' : t.slice(cut + 1)
  let digits = whole
  if (thousandsMark !== '' && whole.includes(thousandsMark)) {
    const groups = whole.split(thousandsMark)
    const [first = '', ...rest] = groups
    if (!/^[1-9]\d{0,2}$/.test(first) || rest.some((g) => !/^\d{3}$/.test(g)))
      throw new Error(`"${text}" has misplaced thousands separators`)
    digits = groups.join('')
  }
  if (!/^\d+$/.test(digits) || (cut >= 0 && !/^\d+$/.test(fraction)))
    throw new Error(
      `"${text}" is not an amount (decimal mark "${decimalMark}"${thousandsMark ? `, thousands "${thousandsMark}"` : ''})`,
    )
  try {
    const m = parseAmount(`${negative ? '-' : ''}${digits}${cut < 0 ? '' : `.${fraction}`}`, code)
    return m.minor
  } catch (e) {
    if (isDshError(e) && e.code === 'too_many_decimals')
      throw new Error(
        `"${text}" has ${fraction.length} decimal${fraction.length === 1 ? '' : 's'}; ${code} allows ${currencyOf(code).exponent === 0 ? 'none' : `at most ${currencyOf(code).exponent}`}`,
      )
    throw e
  }
}

// ---------------------------------------------------------------------------------------------
// rows

/** Column positions of a profile once the header (or the indexes) are known. */
export type ColumnIndex = Partial<Record<ColumnKey, number>>

/** Resolves a profile's columns against a header row; a missing header name is an error. */
export function resolveColumns(
  profile: StatementProfile,
  header: readonly string[] | null,
): ColumnIndex {
  const out: ColumnIndex = {}
  const names = header?.map((h) => h.trim().toLowerCase()) ?? []
  for (const [k, v] of Object.entries(profile.columns) as [ColumnKey, string | number][]) {
    if (typeof v === 'number') out[k] = v
    else {
      const i = names.indexOf(v.trim().toLowerCase())
      if (i < 0) throw new RowError(1, `no column "${v}" in the header`)
      out[k] = i
    }
  }
  return out
}

/** Whether a row is the header: it holds every column the profile names by header text. */
export function isHeaderRow(profile: StatementProfile, cells: readonly string[]): boolean {
  const names = new Set(cells.map((c) => c.trim().toLowerCase()))
  const wanted = Object.values(profile.columns).filter((v): v is string => typeof v === 'string')
  return wanted.length > 0 && wanted.every((w) => names.has(w.trim().toLowerCase()))
}

const cell = (cells: readonly string[], i: number | undefined): string =>
  i === undefined ? '' : (cells[i] ?? '').trim()

/**
 * Turns one data row into a canonical row. Throws RowError naming the 1-based column and what was
 * expected. `fallbackCurrency` is the profile's, else the branch's.
 */
export function canonicalRow(
  profile: StatementProfile,
  cols: ColumnIndex,
  cells: readonly string[],
  line: number,
  fallbackCurrency: string,
): CanonicalRow {
  // The column being read: a failure that is not a RowError is reported against it.
  let k: ColumnKey = 'currency'
  let code: string
  let bookedMs: number
  let valueDate: string | null = null
  let amount: bigint
  let balance: bigint | null = null
  try {
    const c = cell(cells, cols.currency).toUpperCase()
    code = c !== '' ? c : (profile.currency ?? fallbackCurrency)
    exponentOf(code)
    k = 'bookedAt'
    bookedMs = parseDateMs(cell(cells, cols.bookedAt), profile.dateFormats, profile.timeZone, false)
    if (cols.valueDate !== undefined) {
      const v = cell(cells, cols.valueDate)
      if (v !== '') {
        k = 'valueDate'
        parseDateMs(v, profile.valueDateFormats, profile.timeZone)
        valueDate = lastDay
      }
    }
    if (cols.amount !== undefined) {
      k = 'amount'
      const a = parseStatementAmount(cell(cells, cols.amount), profile, code)
      if (a === null) throw new RowError(cols.amount + 1, 'amount: empty, expected an amount')
      amount = a
    } else {
      k = 'debit'
      const debit = parseStatementAmount(cell(cells, cols.debit), profile, code)
      k = 'credit'
      const credit = parseStatementAmount(cell(cells, cols.credit), profile, code)
      if (debit === null && credit === null)
        throw new RowError(
          (cols.credit ?? 0) + 1,
          'credit/debit: both empty, expected an amount in one',
        )
      const d = debit ?? 0n
      amount = (credit ?? 0n) - (d < 0n ? -d : d)
    }
    if (cols.balance !== undefined) {
      k = 'balance'
      balance = parseStatementAmount(cell(cells, cols.balance), profile, code)
    }
  } catch (e) {
    if (e instanceof RowError) throw e
    const msg = e instanceof DshError || e instanceof Error ? e.message : String(e)
    throw new RowError((cols[k] ?? 0) + 1, `${k}: ${msg}`)
  }
  const transactionId =
    cols.transactionId === undefined ? null : cell(cells, cols.transactionId) || null
  const description = cell(cells, cols.description)
  const refCell = cell(cells, cols.reference)
  let reference = transactionId ?? refCell
  /** The column the reference was read from (for the message when it is refused). */
  let refColumn = transactionId !== null ? cols.transactionId : cols.reference
  let found = false
  if (transactionId === null && profile.referencePattern) {
    const inRef = profile.referencePattern.exec(refCell)
    const m = inRef ?? profile.referencePattern.exec(description)
    if (m) {
      reference = m[1] ?? m[0]
      if (!inRef) refColumn = cols.description
    }
    found = m !== null
  }
  let keyReference: string | undefined
  if (transactionId === null && !found && profile.depositPattern) {
    const inRef = profile.depositPattern.exec(refCell)
    const m = inRef ?? profile.depositPattern.exec(description)
    const deposit = m ? (m[1] ?? m[0]) : undefined
    if (deposit !== undefined && deposit !== reference) {
      keyReference = reference
      reference = deposit
      if (!inRef) refColumn = cols.description
    }
  }
  checkReceipt(profile, transactionId, reference, refColumn)
  return {
    ...(keyReference === undefined ? {} : { keyReference }),
    line,
    bookedAt: new Date(bookedMs).toISOString(),
    valueDate,
    amountMinor: amount,
    currency: code,
    transactionId,
    reference,
    description,
    counterparty: cell(cells, cols.counterparty),
    balanceMinor: balance,
    completed:
      cols.status === undefined || profile.completedStatuses.length === 0
        ? true
        : profile.completedStatuses.includes(cell(cells, cols.status).toLowerCase()),
  }
}

/**
 * Receipts and references are checked where they enter (they end up on payments and in CSV
 * exports): at most 64 characters, and a receipt (the transaction id, else an `mpesa` line's
 * reference) must match the profile's receipt pattern, M-Pesa's `^[A-Z0-9]{10}$` by default.
 */
function checkReceipt(
  profile: StatementProfile,
  transactionId: string | null,
  reference: string,
  refColumn: number | undefined,
): void {
  const shown = (v: string) => JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)
  if (transactionId !== null && transactionId.length > MAX_REFERENCE_LENGTH)
    throw new RowError(
      (refColumn ?? 0) + 1,
      `receipt: ${transactionId.length} characters, at most ${MAX_REFERENCE_LENGTH}`,
    )
  if (reference.length > MAX_REFERENCE_LENGTH)
    throw new RowError(
      (refColumn ?? 0) + 1,
      `reference: ${reference.length} characters, at most ${MAX_REFERENCE_LENGTH}`,
    )
  const receipt = transactionId ?? (profile.kind === 'mpesa' ? reference : null)
  if (receipt && profile.receiptPattern && !profile.receiptPattern.test(receipt))
    throw new RowError(
      (refColumn ?? 0) + 1,
      `receipt: ${shown(receipt)} is not a receipt (${profile.receiptPattern === MPESA_RECEIPT ? 'an M-Pesa receipt is 10 capital letters or digits' : `expected ${profile.receiptPattern.source}`})`,
    )
}

/** Reference text compared across statements: upper case, no spaces or punctuation. */
export const normaliseReference = (s: string): string => s.toUpperCase().replace(/[^0-9A-Z]/g, '')

/** What makes two rows the same transaction (before the occurrence index). */
export function rowKey(branchId: string, account: string, r: CanonicalRow): string {
  return r.transactionId !== null
    ? `${branchId}|${account}|id|${r.transactionId.toUpperCase()}`
    : `${branchId}|${account}|${r.bookedAt}|${r.amountMinor}|${r.currency}|${normaliseReference((r.keyReference ?? r.reference) || r.description)}|${normaliseReference(r.counterparty)}`
}

/** The hash of a row's key (identical rows share it; the occurrence index tells them apart). */
export const keyHash: (key: string) => string =
  typeof hash === 'function'
    ? (key) => hash('sha256', key, 'hex').slice(0, 32)
    : (key) => createHash('sha256').update(key).digest('hex').slice(0, 32)

/** The stored fingerprint: the key's hash and the occurrence index of the row within its file. */
export const fingerprint = (hash: string, occurrence: number): string => `${hash}.${occurrence}`

/** The covered period [from, to) from the preamble dates: `to` includes that whole day. */
export function periodFromPreamble(
  profile: StatementProfile,
  preamble: readonly string[],
): { from: number; to: number } | null {
  if (!profile.periodPattern) return null
  for (const text of preamble) {
    const m = profile.periodPattern.exec(text)
    if (!m?.[1] || !m[2]) continue
    const from = parseStatementDate(m[1], [profile.periodDateFormat], profile.timeZone)
    const to = parseStatementDate(m[2], [profile.periodDateFormat], profile.timeZone)
    const [y, mo, d] = to.day.split('-').map(Number) as [number, number, number]
    const next = new Date(Date.UTC(y, mo - 1, d + 1))
    return {
      from: from.ms,
      to: zonedToUtc(
        next.getUTCFullYear(),
        next.getUTCMonth() + 1,
        next.getUTCDate(),
        0,
        0,
        0,
        profile.timeZone,
      ),
    }
  }
  return null
}

/** Digits a masked phone shows (`254712***678`) agree with a full number at the same places. */
export function phoneDigitsAgree(masked: string, full: string | null): boolean {
  if (!full) return true
  const m = /(\d[\d*]{5,}\d)/.exec(masked)
  if (!m?.[1]) return true
  const shown = m[1]
  if (shown.length !== full.length) return true
  for (let i = 0; i < shown.length; i++) {
    const c = shown[i]
    if (c !== '*' && c !== full[i]) return false
  }
  return true
}
