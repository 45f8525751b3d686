import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'csv-parse/sync'
import { type CsvKind, csvRecord, text as csvText } from '../core/csv.js'
import { parseAmount, toDecimalString } from '../core/money/index.js'
import { wallClock } from '../core/time.js'
import type { PaymentView } from '../payments/view.js'
import type { Charge } from '../sandbox/index.js'
import type { BatchView } from '../settlement/view.js'
import { stalled } from './stalled.js'

/** A problem the demo puts into a statement on purpose; reconciliation must find exactly these. */
export interface Planted {
  category: string
  /** The payment id, else the batch reference, else the statement line's reference. */
  reference: string
}

export interface StatementFile {
  branch: string
  profile: 'mpesa' | 'bank'
  path: string
}

/** `yyyy-mm-dd HH:MM:SS` (or `dd-mm-yyyy …`) wall time of an instant in a time zone. */
function wall(at: string, timeZone: string): { ymd: string; dmy: string; hms: string } {
  const w = wallClock(timeZone, new Date(at))
  const two = (n: number) => String(n).padStart(2, '0')
  const p = {
    year: String(w.year),
    month: two(w.month),
    day: two(w.day),
    hour: two(w.hour),
    minute: two(w.minute),
    second: two(w.second),
  }
  return {
    ymd: `${p.year}-${p.month}-${p.day}`,
    dmy: `${p.day}-${p.month}-${p.year}`,
    hms: `${p.hour}:${p.minute}:${p.second}`,
  }
}

/** A record writer of the one CSV writer for a layout's column kinds (amounts are numbers). */
const rowOf = (kinds: readonly CsvKind[]) => (cells: readonly string[]) =>
  `${csvRecord(cells.map((value, i) => ({ value, kind: kinds[i] ?? 'text' })))}\n`
const T = 'text' as const
const N = 'number' as const
/** Receipt, times, details, status, paid in, withdrawn, balance, then text. */
export const mpesaRow = rowOf([T, T, T, T, T, N, N, N, T, T, T, T, T])
/** Date, value date, description, reference, debit, credit, balance. */
export const bankRow = rowOf([T, T, T, T, N, N, N])
const money = (minor: bigint, currency: string) => toDecimalString({ minor, currency })
const masked = (msisdn: string | undefined) =>
  msisdn ? `${msisdn.slice(0, 6)}***${msisdn.slice(-3)}` : ''

interface MpesaLine {
  receipt: string
  at: string
  amountMinor: bigint
  phone: string | undefined
  account: string
}

/**
 * The paybill statement the M-Pesa portal would give for the day: one line per real Daraja
 * charge of the sandbox ledger (whole shillings), with four planted problems: a charge left
 * out, a charge booked one shilling short, a line printed twice, and money from nobody dsh knows.
 */
export function mpesaStatement(
  dir: string,
  branch: { code: string; timezone: string },
  ledger: readonly Charge[],
  payments: readonly PaymentView[],
  now: Date,
): { file: StatementFile; planted: Planted[] } {
  const byReceipt = new Map(
    payments
      .filter((p) => p.branch === branch.code && p.receiptNumber)
      .map((p) => [p.receiptNumber as string, p]),
  )
  const charges = ledger
    .filter((c) => c.gateway === 'mpesa' && c.receipt)
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
  // Targets: charges whose payment learnt its receipt from the callback (plain successes).
  const targets = charges.filter((c) => byReceipt.get(c.receipt as string)?.status === 'succeeded')
  const [dropped, short, twice] = [targets[3], targets[10], targets[20]] as Charge[]
  if (!dropped || !short || !twice)
    throw stalled(`only ${targets.length} M-Pesa charges with a receipt: too few to plant problems`)
  const pid = (c: Charge) => (byReceipt.get(c.receipt as string) as PaymentView).id
  const planted: Planted[] = [
    { category: 'missing_in_statement', reference: pid(dropped) },
    { category: 'amount_mismatch', reference: pid(short) },
    { category: 'duplicate_in_statement', reference: pid(twice) },
  ]
  const lines: MpesaLine[] = []
  for (const c of charges) {
    if (c === dropped) continue
    const amountMinor = parseAmount(c.amount, 'KES').minor - (c === short ? 100n : 0n)
    const line = {
      receipt: c.receipt as string,
      at: c.at,
      amountMinor,
      phone: c.phone,
      account: c.attemptRef ?? '',
    }
    lines.push(line)
    if (c === twice) lines.push({ ...line })
  }
  // A customer paid the paybill directly with an account number dsh never issued.
  const stranger = 'SKD7Q4M2ZX'
  lines.push({
    receipt: stranger,
    at: now.toISOString(),
    amountMinor: 987_100n,
    phone: '254711987654',
    account: 'TABLE-12',
  })
  planted.push({ category: 'missing_in_dsh', reference: stranger })
  lines.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))

  const first = wall(lines[0]?.at ?? now.toISOString(), branch.timezone)
  const last = wall(lines.at(-1)?.at ?? now.toISOString(), branch.timezone)
  let text = `${[
    csvRecord([csvText('Organisation Name:'), csvText('SAVANNA GRILL LTD')]),
    csvRecord([csvText('Organisation Short Code:'), csvText('174379')]),
    csvRecord([csvText(`Time Period: From ${first.dmy} To ${last.dmy}`)]),
  ].join('\n')}\n\n`
  text += mpesaRow([
    'Receipt No.',
    'Completion Time',
    'Initiation Time',
    'Details',
    'Transaction Status',
    'Paid In',
    'Withdrawn',
    'Balance',
    'Balance Confirmed',
    'Reason Type',
    'Other Party Info',
    'Linked Transaction ID',
    'A/C No.',
  ])
  let balance = 1_250_000n
  for (const l of lines) {
    balance += l.amountMinor
    const w = wall(l.at, branch.timezone)
    text += mpesaRow([
      l.receipt,
      `${w.dmy} ${w.hms}`,
      `${w.dmy} ${w.hms}`,
      'Pay Bill Online',
      'Completed',
      money(l.amountMinor, 'KES'),
      '',
      money(balance, 'KES'),
      'true',
      'Pay Bill Online',
      `${masked(l.phone)} - CUSTOMER`,
      '',
      l.account,
    ])
  }
  mkdirSync(dir, { recursive: true })
  const path = join(dir, `${branch.code}-mpesa.csv`)
  writeFileSync(path, text)
  return { file: { branch: branch.code, profile: 'mpesa', path }, planted }
}

interface Credit {
  at: string
  description: string
  reference: string
  amountMinor: bigint
}

/** A settlement transfer as the outbox file describes it: reference, amount, currency. */
function outboxTransfer(path: string): { reference: string; amount: string; currency: string } {
  const [head, values] = parse(readFileSync(path, 'utf8'), {
    relax_column_count: true,
  }) as string[][]
  const at = (name: string) =>
    values?.[head?.findIndex((h) => h.toLowerCase() === name) ?? -1] ?? ''
  return { reference: at('reference'), amount: at('amount'), currency: at('currency') }
}

/**
 * The branch banks its cash: one deposit per cash-up, with the slip's `CASH-…` reference in the
 * description (as a teller writes it), booked when the cash-up was made. With `shortMinor`, the
 * first deposit is that much short of what the cash-up expects (a planted deposit_short).
 */
function cashDeposits(
  branch: { code: string },
  batches: readonly BatchView[],
  shortMinor: bigint | undefined,
  planted: Planted[],
): Credit[] {
  const out: Credit[] = []
  const cashUps = batches
    .filter((b) => b.branch === branch.code && b.kind === 'cash_deposit')
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
  for (const c of cashUps) {
    let amountMinor = c.expectedMinor ?? 0n
    if (shortMinor && out.length === 0) {
      amountMinor -= shortMinor
      planted.push({ category: 'deposit_short', reference: c.reference })
    }
    out.push({
      at: c.createdAt,
      description: `Cash deposit ${c.depositReference} ${branch.code}`,
      reference: `SLIP-${out.length + 1}`,
      amountMinor,
    })
  }
  return out
}

/**
 * A branch's bank statement: one credit per settlement transfer that went out, as the bank
 * books it (the sandbox bank's ledger for `http` accounts, the outbox files for `file` ones),
 * and one deposit per cash-up (the branch banks its cash). `plant` says which problems this
 * branch's statement carries.
 */
export function bankStatement(
  dir: string,
  branch: { code: string; timezone: string; currency: string },
  batches: readonly BatchView[],
  ledger: readonly Charge[],
  plant: { feeShortMinor?: bigint; strangerMinor?: bigint; cashShortMinor?: bigint },
  now: Date,
): { file: StatementFile; planted: Planted[] } {
  const planted: Planted[] = []
  const credits: Credit[] = cashDeposits(branch, batches, plant.cashShortMinor, planted)
  const mine = batches
    .filter((b) => b.branch === branch.code && b.transfer)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
  for (const b of mine) {
    const t = b.transfer as NonNullable<BatchView['transfer']>
    let amountMinor: bigint
    if (t.adapter === 'http') {
      const c = ledger.find((x) => x.gateway === 'bank' && x.attemptRef === b.id)
      if (!c) continue // the bank never moved it
      amountMinor = BigInt(c.amount) // the bank API's ledger is in minor units
    } else {
      const csv = t.files.find((f) => f.endsWith('.csv'))
      if (!csv) continue
      const o = outboxTransfer(csv)
      amountMinor = parseAmount(o.amount, o.currency).minor
    }
    if (plant.feeShortMinor && planted.length === 0 && b.gateway === 'stripe') {
      // The bank kept a charge of its own: the credit is short of the batch's net.
      amountMinor -= plant.feeShortMinor
      planted.push({ category: 'fee_mismatch', reference: b.reference })
    }
    credits.push({
      at: t.sentAt,
      description: `Settlement ${branch.code} ${b.gateway}`,
      reference: b.reference,
      amountMinor,
    })
  }
  if (plant.strangerMinor) {
    const reference = 'DEP-0042'
    credits.push({
      at: now.toISOString(),
      description: 'Cash deposit, counter 3',
      reference,
      amountMinor: plant.strangerMinor,
    })
    planted.push({ category: 'missing_in_dsh', reference })
  }
  let text = bankRow([
    'Date',
    'Value Date',
    'Description',
    'Reference',
    'Debit',
    'Credit',
    'Balance',
  ])
  let balance = 0n
  for (const c of credits.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))) {
    balance += c.amountMinor
    const w = wall(c.at, branch.timezone)
    text += bankRow([
      `${w.ymd} ${w.hms}`,
      w.ymd,
      c.description,
      c.reference,
      '',
      money(c.amountMinor, branch.currency),
      money(balance, branch.currency),
    ])
  }
  mkdirSync(dir, { recursive: true })
  const path = join(dir, `${branch.code}-bank.csv`)
  writeFileSync(path, text)
  return { file: { branch: branch.code, profile: 'bank', path }, planted }
}
