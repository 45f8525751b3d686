/*
 * Statements built from the sandbox ledger: what the M-Pesa organisation portal and the bank would
 * let a business download for the money that really moved (GATEWAYS.md §6), in the layouts of
 * dsh's built-in `mpesa` and `bank` statement profiles.
 *
 * - `mpesaStatement`: the 13-column M-Pesa business statement of one shortcode (preamble, BOM,
 *   CRLF, dd-mm-yyyy HH:MM:SS Africa/Nairobi times, quoted amounts, newest first), one Completed
 *   row per M-Pesa charge collected by that shortcode and a Failed row per push the customer's
 *   side refused (`failures`); `Receipt No.` is the receipt, `A/C No.` the AccountReference the
 *   push carried.
 * - `bankStatement`: Date, Value Date, Description, Reference, Debit, Credit, Balance of one bank
 *   account, one credit per completed transfer to it (`Reference` = the transfer's reference,
 *   `Description` = its narrative), oldest first.
 *
 * What a ledger cannot know is given as options: rows dsh never saw (a till payment typed by hand,
 * a failed transaction), and the bank's own habits (booking a transfer days later, deducting a
 * charge from the credit or debiting it on its own line).
 */
import {
  type CsvColumn,
  columns,
  csvHeader,
  csvRecord,
  csvRowWriter,
  csvTable,
  text,
} from '../core/csv.js'
import { toGroupedString } from '../core/money/index.js'
import type { Charge, FailedCharge } from './types.js'

const HOUR = 3_600_000
const pad = (n: number) => String(n).padStart(2, '0')

/** Africa/Nairobi is UTC+3 all year (no summer time). */
const nairobi = (ms: number) => new Date(ms + 3 * HOUR)

/** dd-mm-yyyy HH:MM:SS in Africa/Nairobi. */
const mpesaTime = (ms: number) => {
  const d = nairobi(ms)
  return `${pad(d.getUTCDate())}-${pad(d.getUTCMonth() + 1)}-${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
}

/** yyyy-mm-dd HH:MM:SS and yyyy-mm-dd in Africa/Nairobi. */
const bankTime = (ms: number) => {
  const d = nairobi(ms)
  const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
  return {
    at: `${day} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`,
    day,
  }
}

/** The start of a yyyy-mm-dd day in Africa/Nairobi (ms). */
function dayStart(day: string, what: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day)
  if (!m) throw new Error(`${what} must be a day like 2026-11-01, not "${day}"`)
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) - 3 * HOUR
  if (Number.isNaN(ms) || bankTime(ms).day !== day)
    throw new Error(`${what}: ${day} is not a real day`)
  return ms
}

/** KES minor units as the statements print them: 1,234.56. */
const money = (minor: bigint): string => toGroupedString({ minor, currency: 'KES' })

/*
 * The statements go through dsh's one CSV writer like every CSV dsh writes: the ledger's own data
 * (receipts, Nairobi times, narratives) never starts like a formula, so the bytes are the
 * portal's and the bank's; a hostile name planted in the sandbox would come out guarded.
 */
const MPESA_COLUMNS: CsvColumn[] = [
  { name: 'Receipt No.', kind: 'text' },
  { name: 'Completion Time', kind: 'text' },
  { name: 'Initiation Time', kind: 'text' },
  { name: 'Details', kind: 'text' },
  { name: 'Transaction Status', kind: 'text' },
  { name: 'Paid In', kind: 'number', quote: 'always' },
  { name: 'Withdrawn', kind: 'number' },
  { name: 'Balance', kind: 'number', quote: 'always' },
  { name: 'Balance Confirmed', kind: 'text' },
  { name: 'Reason Type', kind: 'text' },
  { name: 'Other Party Info', kind: 'text' },
  { name: 'Linked Transaction ID', kind: 'text' },
  { name: 'A/C No.', kind: 'text' },
]
const MPESA_ROW = csvRowWriter(MPESA_COLUMNS)
const BANK_COLUMNS = columns(
  ['Date', 'text'],
  ['Value Date', 'text'],
  ['Description', 'text'],
  ['Reference', 'text'],
  ['Debit', 'number'],
  ['Credit', 'number'],
  ['Balance', 'number'],
)

/** 254712345678 → 254712***678, as the M-Pesa statement masks a phone. */
const maskPhone = (msisdn: string) => `${msisdn.slice(0, 6)}***${msisdn.slice(-3)}`

/** A row the ledger does not hold: money dsh never saw, or a failed transaction. */
export interface MpesaExtraRow {
  receipt: string
  /** ISO time. */
  at: string
  /** Whole shillings, as the ledger keeps M-Pesa amounts. */
  amount: string
  phone: string
  status: 'Completed' | 'Failed'
  /** Default: Pay Bill Online. */
  details?: string | undefined
  /** The A/C No. the customer typed. */
  accountRef?: string | undefined
}

export interface MpesaStatementOptions {
  shortcode: string
  /** First and last day (yyyy-mm-dd, Africa/Nairobi), both included. */
  from: string
  to: string
  organisation?: string | undefined
  /** The balance before the first row, in cents (default 0). */
  openingBalanceMinor?: bigint | undefined
  /** The sandbox's refused pushes (`failures()`): Failed rows. */
  failures?: readonly FailedCharge[] | undefined
  extra?: readonly MpesaExtraRow[] | undefined
}

interface MpesaRow {
  receipt: string
  ms: number
  minor: bigint
  phone: string
  status: 'Completed' | 'Failed'
  details: string
  accountRef: string
}

const byTime =
  <T extends { ms: number }>(key: (r: T) => string) =>
  (a: T, b: T) =>
    a.ms - b.ms || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)

/**
 * The M-Pesa business statement CSV of `shortcode` for [from, to]: a Completed row per M-Pesa
 * charge it collected (plus `extra`), newest first, with the running balance.
 */
export function mpesaStatement(ledger: readonly Charge[], o: MpesaStatementOptions): string {
  const from = dayStart(o.from, 'from')
  const to = dayStart(o.to, 'to') + 24 * HOUR
  const rows: MpesaRow[] = []
  const failed = new Set<Charge>(o.failures ?? [])
  for (const c of [...ledger, ...failed]) {
    if (c.gateway !== 'mpesa' || c.account !== o.shortcode || !c.receipt) continue
    rows.push({
      receipt: c.receipt,
      ms: Date.parse(c.at),
      minor: BigInt(c.amount) * 100n,
      phone: c.phone ?? '',
      status: failed.has(c) ? 'Failed' : 'Completed',
      details: 'Pay Bill Online',
      accountRef: c.attemptRef ?? '',
    })
  }
  for (const x of o.extra ?? [])
    rows.push({
      receipt: x.receipt,
      ms: Date.parse(x.at),
      minor: BigInt(x.amount) * 100n,
      phone: x.phone,
      status: x.status,
      details: x.details ?? 'Pay Bill Online',
      accountRef: x.accountRef ?? '',
    })
  const inPeriod = rows
    .filter((r) => r.ms >= from && r.ms < to)
    .sort(byTime<MpesaRow>((r) => r.receipt))
  let balance = o.openingBalanceMinor ?? 0n
  const lines = inPeriod.map((r) => {
    if (r.status === 'Completed') balance += r.minor
    const t = mpesaTime(r.ms)
    return MPESA_ROW([
      r.receipt,
      t,
      t,
      r.details,
      r.status,
      money(r.minor),
      '',
      money(balance),
      'true',
      r.details,
      `${maskPhone(r.phone)} - CUSTOMER`,
      '',
      r.accountRef,
    ])
  })
  const day = (ms: number) => {
    const d = nairobi(ms)
    return `${pad(d.getUTCDate())}-${pad(d.getUTCMonth() + 1)}-${d.getUTCFullYear()}`
  }
  const csv = [
    csvRecord([text('Organisation Name:'), text(o.organisation ?? 'SANDBOX BUSINESS')]),
    csvRecord([text('Organisation Short Code:'), text(o.shortcode)]),
    csvRecord([text(`Time Period: From ${day(from)} To ${day(to - 1)}`)]),
    '',
    csvHeader(MPESA_COLUMNS),
    ...lines.reverse(),
  ].join('\r\n')
  return `\ufeff${csv}\r\n`
}

/** What the bank did with one transfer beyond crediting it at once and in full. */
export interface BankBooking {
  /** Booked later than the transfer completed (ISO time). */
  bookedAt?: string | undefined
  /** A charge taken out of the credit: the credit is the amount less this (minor units). */
  deductedMinor?: bigint | undefined
  /** A charge debited on its own line right after the credit (minor units). */
  chargeMinor?: bigint | undefined
}

/** A bank row the ledger does not hold (minor units; a debit is negative). */
export interface BankExtraRow {
  at: string
  description: string
  reference: string
  amountMinor: bigint
}

export interface BankStatementOptions {
  account: string
  from: string
  to: string
  openingBalanceMinor?: bigint | undefined
  /** The bank's handling of a transfer, by the transfer's id (trf_…). */
  bookings?: Readonly<Record<string, BankBooking>> | undefined
  extra?: readonly BankExtraRow[] | undefined
}

interface BankRow {
  ms: number
  description: string
  reference: string
  minor: bigint
  seq: number
}

/**
 * The bank statement CSV of `account` for [from, to] in the `bank` profile's layout: a credit per
 * completed transfer to it (booked and charged as `bookings` says), plus `extra`, oldest first.
 */
export function bankStatement(ledger: readonly Charge[], o: BankStatementOptions): string {
  const from = dayStart(o.from, 'from')
  const to = dayStart(o.to, 'to') + 24 * HOUR
  const rows: BankRow[] = []
  let seq = 0
  for (const c of ledger) {
    if (c.gateway !== 'bank' || c.account !== o.account) continue
    const b = o.bookings?.[c.reference] ?? {}
    const ms = Date.parse(b.bookedAt ?? c.at)
    const credit = BigInt(c.amount) - (b.deductedMinor ?? 0n)
    rows.push({
      ms,
      description: c.narrative ?? '',
      reference: c.payeeReference ?? c.reference,
      minor: credit,
      seq: seq++,
    })
    if (b.chargeMinor)
      rows.push({
        ms,
        description: `Charges ${c.payeeReference ?? c.reference}`,
        reference: c.reference,
        minor: -b.chargeMinor,
        seq: seq++,
      })
  }
  for (const x of o.extra ?? [])
    rows.push({
      ms: Date.parse(x.at),
      description: x.description,
      reference: x.reference,
      minor: x.amountMinor,
      seq: seq++,
    })
  rows.sort((a, b) => a.ms - b.ms || a.seq - b.seq)
  let balance = o.openingBalanceMinor ?? 0n
  const lines = rows
    .filter((r) => r.ms >= from && r.ms < to)
    .map((r) => {
      balance += r.minor
      const t = bankTime(r.ms)
      return [
        t.at,
        t.day,
        r.description,
        r.reference,
        r.minor < 0n ? money(-r.minor) : '',
        r.minor > 0n ? money(r.minor) : '',
        money(balance),
      ]
    })
  return csvTable(BANK_COLUMNS, lines)
}
