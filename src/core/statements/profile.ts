import { validationError } from '../errors.js'
import { isCurrency } from '../money/index.js'
import { assertLinearRegex, UnsafeRegex } from './regex-safety.js'

/** The fields a profile maps to columns (by header name or by 0-based index). */
export const COLUMN_KEYS = [
  'bookedAt',
  'valueDate',
  'description',
  'reference',
  'transactionId',
  'amount',
  'debit',
  'credit',
  'balance',
  'currency',
  'counterparty',
  'status',
] as const
export type ColumnKey = (typeof COLUMN_KEYS)[number]

export type StatementKind = 'mpesa' | 'bank'

/** A statement layout, validated. Built-in (`mpesa`, `bank`) or read from a JSON file. */
export interface StatementProfile {
  name: string
  /** `mpesa` lines are matched to M-Pesa payments; `bank` credits to settlement batches. */
  kind: StatementKind
  /** The account the statement is of (part of every line's fingerprint); default the name. */
  account: string
  separator: string
  encoding: 'utf-8' | 'latin1'
  /** Records skipped before the header (or the first data row when there is no header). */
  skipLines: number
  /** Records whose raw text matches one of these are skipped anywhere (totals, footers). */
  skipPatterns: RegExp[]
  header: boolean
  columns: Partial<Record<ColumnKey, string | number>>
  dateFormats: string[]
  valueDateFormats: string[]
  decimalMark: string
  thousandsMark: string
  timeZone: string
  currency: string | undefined
  /** Extracts the reference from the reference column (else the description); group 1 if any. */
  referencePattern: RegExp | undefined
  /**
   * A cash deposit's reference (`CASH-…`), read from the reference column (else the description)
   * when referencePattern finds nothing; group 1 if any. The line's fingerprint keeps the
   * reference it had without it.
   */
  depositPattern: RegExp | undefined
  /** Finds the covered period in the preamble; groups 1 and 2 are the from and to dates. */
  periodPattern: RegExp | undefined
  periodDateFormat: string
  /** Values of the status column that count as completed (case-insensitive); others are skipped. */
  completedStatuses: string[]
  /** A longer line (bytes up to its line feed) refuses the file at that line (default 64 KiB). */
  maxLineBytes: number
  /**
   * What a receipt (the transaction id, else the reference of an `mpesa` line) must be, whole;
   * `mpesa` profiles default to M-Pesa's `^[A-Z0-9]{10}$`. A line that fails is refused.
   */
  receiptPattern: RegExp | undefined
}

/** The longest line a statement may have unless its profile says otherwise. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024
/** The most a profile may allow (a larger line is no statement row). */
const MAX_MAX_LINE_BYTES = 16 * 1024 * 1024
/** An M-Pesa receipt: ten capital letters or digits (NLJ7RT61SV). */
export const MPESA_RECEIPT = /^[A-Z0-9]{10}$/
/** The longest receipt or reference a statement line may carry. */
export const MAX_REFERENCE_LENGTH = 64

const DEFAULTS = {
  separator: ',',
  encoding: 'utf-8' as const,
  skipLines: 0,
  header: true,
  decimalMark: '.',
  thousandsMark: ',',
  timeZone: 'Africa/Nairobi',
  periodDateFormat: 'dd-mm-yyyy',
  maxLineBytes: DEFAULT_MAX_LINE_BYTES,
}

/** The M-Pesa organisation-portal statement (GATEWAYS.md §6): 13 columns after a preamble. */
export const MPESA_PROFILE: StatementProfile = {
  ...DEFAULTS,
  name: 'mpesa',
  kind: 'mpesa',
  account: 'mpesa',
  skipPatterns: [],
  columns: {
    transactionId: 'Receipt No.',
    bookedAt: 'Completion Time',
    description: 'Details',
    status: 'Transaction Status',
    credit: 'Paid In',
    debit: 'Withdrawn',
    balance: 'Balance',
    counterparty: 'Other Party Info',
    reference: 'A/C No.',
  },
  dateFormats: ['dd-mm-yyyy HH:MM:SS', 'dd-mm-yyyy HH:MM', 'yyyy-mm-dd HH:MM:SS'],
  valueDateFormats: [],
  currency: undefined,
  referencePattern: undefined,
  depositPattern: undefined,
  periodPattern: /From\s+(\d{2}-\d{2}-\d{4})\s+To\s+(\d{2}-\d{2}-\d{4})/i,
  completedStatuses: ['completed'],
  receiptPattern: MPESA_RECEIPT,
}

/** A generic bank layout: date, value date, description, reference, debit, credit, balance. */
export const BANK_PROFILE: StatementProfile = {
  ...DEFAULTS,
  name: 'bank',
  kind: 'bank',
  account: 'bank',
  skipPatterns: [/^\s*"?(total|closing balance|opening balance)/i],
  columns: {
    bookedAt: 'Date',
    valueDate: 'Value Date',
    description: 'Description',
    reference: 'Reference',
    debit: 'Debit',
    credit: 'Credit',
    balance: 'Balance',
  },
  dateFormats: ['yyyy-mm-dd HH:MM:SS', 'yyyy-mm-dd', 'dd/mm/yyyy HH:MM:SS', 'dd/mm/yyyy'],
  valueDateFormats: ['yyyy-mm-dd', 'dd/mm/yyyy'],
  currency: undefined,
  referencePattern: /(SETTLEMENT-[0-9A-Z]{10})/,
  depositPattern: /(CASH-[0-9A-Z]{10})/,
  periodPattern: undefined,
  completedStatuses: [],
  receiptPattern: undefined,
}

export const BUILT_IN_PROFILES: Readonly<Record<string, StatementProfile>> = {
  mpesa: MPESA_PROFILE,
  bank: BANK_PROFILE,
}

/** A profile value is a path when it contains `/` or ends in `.json`. */
export const isProfilePath = (value: string): boolean =>
  value.includes('/') || value.endsWith('.json')

export function builtInProfile(name: string): StatementProfile {
  const p = BUILT_IN_PROFILES[name]
  if (!p)
    throw validationError(
      'unknown_profile',
      `unknown statement profile "${name}"`,
      `use one of ${Object.keys(BUILT_IN_PROFILES).join(', ')}, or a path to a JSON profile`,
    )
  return p
}

const bad = (source: string, message: string) =>
  validationError(
    'invalid_profile',
    `${source}: ${message}`,
    'see "Statement profiles" in the README',
  )

/** Longer patterns are refused: a profile's are short, and the safety check reads them whole. */
const MAX_PATTERN = 500

function regex(source: string, field: string, value: unknown, flags = 'i'): RegExp {
  if (typeof value !== 'string' || value === '')
    throw bad(source, `${field} must be a regex string`)
  if (value.length > MAX_PATTERN)
    throw bad(source, `${field} is longer than ${MAX_PATTERN} characters`)
  let re: RegExp
  try {
    re = new RegExp(value, flags)
  } catch (e) {
    throw bad(source, `${field} is not a valid regex: ${(e as Error).message}`)
  }
  // Checked when the profile is loaded, before any line is read: a pattern that can backtrack
  // catastrophically would hang the import on one crafted line.
  try {
    assertLinearRegex(re)
  } catch (e) {
    if (!(e instanceof UnsafeRegex)) throw e
    throw bad(
      source,
      `${field} "${value}" can backtrack catastrophically on a crafted line: ${e.message}; rewrite it without nested or overlapping repeats (e.g. (a+)+ as a+)`,
    )
  }
  return re
}

const strings = (source: string, field: string, v: unknown): string[] => {
  const list = typeof v === 'string' ? [v] : v
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string'))
    throw bad(source, `${field} must be a string or a list of strings`)
  return list as string[]
}

const KNOWN_KEYS = new Set([
  'name',
  'kind',
  'account',
  'extends',
  'separator',
  'encoding',
  'skipLines',
  'skipPatterns',
  'header',
  'columns',
  'dateFormat',
  'dateFormats',
  'valueDateFormats',
  'decimalMark',
  'thousandsMark',
  'timeZone',
  'currency',
  'referencePattern',
  'depositPattern',
  'periodPattern',
  'periodDateFormat',
  'completedStatuses',
  'maxLineBytes',
  'receiptPattern',
])

/**
 * Validates a custom profile read from JSON (`source` names the file in messages). Unknown keys,
 * unknown columns, a missing date or amount column and bad regexes are refused.
 */
export function parseProfile(source: string, json: unknown): StatementProfile {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw bad(source, 'a profile is a JSON object')
  const o = json as Record<string, unknown>
  for (const k of Object.keys(o)) if (!KNOWN_KEYS.has(k)) throw bad(source, `unknown key "${k}"`)
  const base: StatementProfile =
    o['extends'] === undefined
      ? {
          ...DEFAULTS,
          name: '',
          kind: 'bank',
          account: '',
          columns: {},
          skipPatterns: [],
          dateFormats: [],
          valueDateFormats: [],
          completedStatuses: [],
          currency: undefined,
          referencePattern: undefined,
          depositPattern: undefined,
          periodPattern: undefined,
          receiptPattern: undefined,
        }
      : builtInProfile(String(o['extends']))
  const name = typeof o['name'] === 'string' && o['name'] !== '' ? o['name'] : undefined
  if (!name) throw bad(source, '"name" is required')
  const kind = o['kind'] ?? base.kind
  if (kind !== 'mpesa' && kind !== 'bank') throw bad(source, '"kind" is mpesa or bank')
  const columns: Partial<Record<ColumnKey, string | number>> =
    o['columns'] === undefined ? { ...base.columns } : {}
  if (o['columns'] !== undefined) {
    if (typeof o['columns'] !== 'object' || o['columns'] === null)
      throw bad(source, '"columns" is an object of field → header name or 0-based index')
    for (const [k, v] of Object.entries(o['columns'] as Record<string, unknown>)) {
      if (!(COLUMN_KEYS as readonly string[]).includes(k))
        throw bad(source, `unknown column "${k}" (known: ${COLUMN_KEYS.join(', ')})`)
      if (!(typeof v === 'string' && v !== '') && !(Number.isInteger(v) && (v as number) >= 0))
        throw bad(source, `column "${k}" is a header name or a 0-based index`)
      columns[k as ColumnKey] = v as string | number
    }
  }
  if (columns.bookedAt === undefined) throw bad(source, 'a "bookedAt" column is required')
  const signed = columns.amount !== undefined
  const split = columns.debit !== undefined || columns.credit !== undefined
  if (signed === split) throw bad(source, 'map either "amount" or "debit" and "credit"')
  const header = o['header'] === undefined ? base.header : o['header'] === true
  if (!header && Object.values(columns).some((v) => typeof v === 'string'))
    throw bad(source, 'without a header, columns are given by index')
  const encoding = String(o['encoding'] ?? base.encoding).toLowerCase()
  const enc =
    encoding === 'utf-8' || encoding === 'utf8'
      ? 'utf-8'
      : encoding === 'latin1' || encoding === 'latin-1' || encoding === 'iso-8859-1'
        ? 'latin1'
        : undefined
  if (!enc) throw bad(source, '"encoding" is utf-8 or latin1')
  const dateFormats =
    o['dateFormats'] !== undefined
      ? strings(source, 'dateFormats', o['dateFormats'])
      : o['dateFormat'] !== undefined
        ? strings(source, 'dateFormat', o['dateFormat'])
        : base.dateFormats
  if (dateFormats.length === 0) throw bad(source, '"dateFormat" is required')
  for (const f of dateFormats) checkFormat(source, f)
  const valueDateFormats =
    o['valueDateFormats'] !== undefined
      ? strings(source, 'valueDateFormats', o['valueDateFormats'])
      : base.valueDateFormats.length > 0
        ? base.valueDateFormats
        : dateFormats
  const separator = String(o['separator'] ?? base.separator)
  if (separator.length !== 1) throw bad(source, '"separator" is one character')
  const decimalMark = String(o['decimalMark'] ?? base.decimalMark)
  const thousandsMark = String(o['thousandsMark'] ?? base.thousandsMark)
  if (decimalMark !== '.' && decimalMark !== ',') throw bad(source, '"decimalMark" is . or ,')
  if (![',', '.', ' ', "'", ''].includes(thousandsMark) || thousandsMark === decimalMark)
    throw bad(source, '"thousandsMark" is one of , . space \' or empty, and not the decimal mark')
  const currency = o['currency'] === undefined ? base.currency : String(o['currency'])
  if (currency !== undefined && !isCurrency(currency))
    throw bad(source, `unknown currency "${currency}"`)
  const timeZone = String(o['timeZone'] ?? base.timeZone)
  try {
    new Intl.DateTimeFormat('en-US', { timeZone })
  } catch {
    throw bad(source, `unknown time zone "${timeZone}"`)
  }
  const maxLineBytes = o['maxLineBytes'] ?? base.maxLineBytes
  if (
    !Number.isInteger(maxLineBytes) ||
    (maxLineBytes as number) < 1 ||
    (maxLineBytes as number) > MAX_MAX_LINE_BYTES
  )
    throw bad(source, `"maxLineBytes" is a whole number from 1 to ${MAX_MAX_LINE_BYTES}`)
  const skipLines = o['skipLines'] ?? base.skipLines
  if (!Number.isInteger(skipLines) || (skipLines as number) < 0)
    throw bad(source, '"skipLines" is a whole number')
  return {
    name,
    kind,
    account: typeof o['account'] === 'string' ? o['account'] : name,
    separator,
    encoding: enc,
    skipLines: skipLines as number,
    skipPatterns:
      o['skipPatterns'] === undefined
        ? base.skipPatterns
        : strings(source, 'skipPatterns', o['skipPatterns']).map((p) =>
            regex(source, 'skipPatterns', p),
          ),
    header,
    columns,
    dateFormats,
    valueDateFormats,
    decimalMark,
    thousandsMark,
    timeZone,
    currency: currency?.toUpperCase(),
    referencePattern:
      o['referencePattern'] === undefined
        ? base.referencePattern
        : regex(source, 'referencePattern', o['referencePattern'], ''),
    depositPattern:
      o['depositPattern'] === undefined
        ? base.depositPattern
        : regex(source, 'depositPattern', o['depositPattern'], ''),
    periodPattern:
      o['periodPattern'] === undefined
        ? base.periodPattern
        : regex(source, 'periodPattern', o['periodPattern']),
    periodDateFormat: String(o['periodDateFormat'] ?? base.periodDateFormat),
    completedStatuses:
      o['completedStatuses'] === undefined
        ? base.completedStatuses
        : strings(source, 'completedStatuses', o['completedStatuses']).map((s) => s.toLowerCase()),
    maxLineBytes: maxLineBytes as number,
    receiptPattern:
      o['receiptPattern'] !== undefined
        ? // The whole receipt must match, whatever anchors the pattern has.
          new RegExp(`^(?:${regex(source, 'receiptPattern', o['receiptPattern'], '').source})$`)
        : (base.receiptPattern ?? (kind === 'mpesa' ? MPESA_RECEIPT : undefined)),
  }
}

const FORMAT_TOKENS = /yyyy|mm|dd|HH|MM|SS/g

function checkFormat(source: string, f: string): void {
  const tokens: string[] = f.match(FORMAT_TOKENS) ?? []
  if (!tokens.includes('yyyy') || !tokens.includes('mm') || !tokens.includes('dd'))
    throw bad(source, `date format "${f}" needs yyyy, mm and dd (HH, MM, SS for the time)`)
}
