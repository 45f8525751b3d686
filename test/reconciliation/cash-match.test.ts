import { describe, expect, it } from 'vitest'
import { type BatchIn, matchBatches } from '../../src/core/reconciliation/batches.js'
import type { LineIn } from '../../src/core/reconciliation/match.js'
import {
  canonicalRow,
  keyHash,
  resolveColumns,
  rowKey,
} from '../../src/core/statements/canonical.js'
import { BANK_PROFILE } from '../../src/core/statements/profile.js'

const H = 3_600_000
const DAY = 24 * H
const CUTOFF = Date.parse('2026-11-29T23:00:00.000Z')
const GRACE = 3 * DAY

const cashUp = (id: string, expected: bigint, extra: Partial<BatchIn> = {}): BatchIn => ({
  id,
  kind: 'cash_deposit',
  reference: `CASH-${id.slice(-10)}`,
  status: 'awaiting_deposit',
  currency: 'KES',
  netMinor: expected,
  sentAtMs: CUTOFF + H,
  cutoffMs: CUTOFF,
  ...extra,
})
const transfer = (id: string, net: bigint, extra: Partial<BatchIn> = {}): BatchIn => ({
  id,
  kind: 'transfer',
  reference: `SETTLEMENT-${id.slice(-10)}`,
  status: 'processing',
  currency: 'KES',
  netMinor: net,
  sentAtMs: CUTOFF + H,
  cutoffMs: CUTOFF,
  ...extra,
})
const line = (
  id: string,
  amount: bigint,
  at: number,
  reference = '',
  description = '',
): LineIn => ({
  id,
  bookedAtMs: at,
  amountMinor: amount,
  currency: 'KES',
  transactionId: null,
  reference,
  counterparty: '',
  description,
})
const none = { ignoredLines: new Set<string>(), rejectedPairs: new Set<string>() }
const run = (lines: LineIn[], batches: BatchIn[], nowMs = CUTOFF + 10 * DAY) =>
  matchBatches(lines, batches, [], none, {
    beforeMs: DAY,
    graceMs: GRACE,
    nowMs,
    coverage: [[CUTOFF - DAY, CUTOFF + 20 * DAY]],
    maxGroup: 5,
  })
const summary = (r: ReturnType<typeof run>) => ({
  matches: r.matches.map((m) => `${m.pass}:${m.lineId}->${m.batchId}`),
  findings: r.findings.map(
    (f) =>
      `${f.category}:${f.lineId ?? '-'}->${f.batchId ?? '-'}:${f.actualMinor - f.expectedMinor}`,
  ),
})

describe('bank credits against cash-ups (core matcher)', () => {
  const C = 'stl_01JCASHUP00000000CASHAAAAA'
  const T = 'stl_01JTRANSF00000000TRANBBBBB'

  it('the deposit reference with the expected cash matches (cash_reference); in the description too', () => {
    const r = run(
      [line('l1', 515050n, CUTOFF + 10 * H, '', `Cash deposit CASH-${C.slice(-10)} slip 42`)],
      [cashUp(C, 515050n)],
    )
    expect(summary(r)).toEqual({ matches: [`cash_reference:l1->${C}`], findings: [] })
    expect(r.summary).toEqual({ lines: 1, matched: 1, autoMatched: 1 })
  })

  it('short by 100.00 is one deposit_short naming the difference; over is deposit_over', () => {
    const short = run(
      [line('l1', 505050n, CUTOFF + 10 * H, `CASH-${C.slice(-10)}`)],
      [cashUp(C, 515050n)],
    )
    expect(summary(short)).toEqual({ matches: [], findings: [`deposit_short:l1->${C}:-10000`] })
    expect(short.findings[0]?.rule).toBe(
      'deposit reference, the deposit is KES 100.00 short of the expected cash',
    )
    expect(short.findings[0]?.suggestion).toContain('KES 100.00 of cash is missing')
    const over = run(
      [line('l1', 515150n, CUTOFF + 10 * H, `CASH-${C.slice(-10)}`)],
      [cashUp(C, 515050n)],
    )
    expect(summary(over)).toEqual({ matches: [], findings: [`deposit_over:l1->${C}:100`] })
  })

  it('two deposits with the reference summing to the expected cash (cash_split)', () => {
    const ref = `CASH-${C.slice(-10)}`
    const r = run(
      [line('l1', 300000n, CUTOFF + 10 * H, ref), line('l2', 215050n, CUTOFF + 30 * H, ref)],
      [cashUp(C, 515050n)],
    )
    expect(summary(r).matches).toEqual([`cash_split:l1->${C}`, `cash_split:l2->${C}`])
  })

  it('by amount from the cut-off to the grace after (cash_amount); before the cut-off or after the grace, no', () => {
    expect(
      summary(run([line('l1', 515050n, CUTOFF + 2 * DAY)], [cashUp(C, 515050n)])).matches,
    ).toEqual([`cash_amount:l1->${C}`])
    const early = run([line('l1', 515050n, CUTOFF - H)], [cashUp(C, 515050n)])
    expect(summary(early).matches).toEqual([])
    expect(summary(early).findings).toEqual([
      'missing_in_dsh:l1->-:515050',
      `deposit_missing:-->${C}:-515050`,
    ])
    const late = run([line('l1', 515050n, CUTOFF + GRACE + H)], [cashUp(C, 515050n)])
    expect(summary(late).matches).toEqual([])
  })

  it('by amount, unique across batches and cash-ups together: a transfer with the same net makes it ambiguous', () => {
    const r = run(
      [line('l1', 515050n, CUTOFF + 10 * H)],
      [cashUp(C, 515050n), transfer(T, 515050n)],
    )
    expect(r.matches).toEqual([])
    expect(r.findings.map((f) => f.category)).toEqual(['ambiguous', 'deposit_missing', 'late'])
    expect(r.findings[0]?.suggestion).toContain(C)
    expect(r.findings[0]?.suggestion).toContain(T)
  })

  it('a credit carrying CASH- is never a batch candidate; one carrying SETTLEMENT- never a cash-up candidate', () => {
    // the unknown deposit reference has exactly the transfer's net: still not the transfer's
    const cashLine = run(
      [line('l1', 119400n, CUTOFF + 10 * H, 'CASH-ZZZZZZZZZZ')],
      [transfer(T, 119400n)],
    )
    expect(cashLine.matches).toEqual([])
    expect(cashLine.findings.map((f) => `${f.category}|${f.rule}`)).toEqual([
      'missing_in_dsh|no open cash-up has this deposit reference',
      'late|processing batch with no credit after the grace period',
    ])
    // control: without the deposit reference the same credit pays the transfer
    expect(
      summary(run([line('l1', 119400n, CUTOFF + 10 * H, 'DEP 991')], [transfer(T, 119400n)]))
        .matches,
    ).toEqual([`batch_amount:l1->${T}`])
    const stlLine = run(
      [line('l1', 515050n, CUTOFF + 10 * H, '', 'Transfer SETTLEMENT-ZZZZZZZZZZ')],
      [cashUp(C, 515050n)],
    )
    expect(stlLine.matches).toEqual([])
    expect(stlLine.findings.map((f) => f.category)).toEqual(['missing_in_dsh', 'deposit_missing'])
    // nor a batch_many set: a CASH- credit equal to two transfers' nets
    const many = run(
      [line('l1', 300n, CUTOFF + 10 * H, 'CASH-ZZZZZZZZZZ')],
      [
        transfer('stl_01JTRANSF00000000TRANCCCCC', 100n),
        transfer('stl_01JTRANSF00000000TRANDDDDD', 200n),
      ],
    )
    expect(many.matches).toEqual([])
  })

  it('deposit_missing only once the grace has passed, and only where a statement covers it', () => {
    const cu = [cashUp(C, 515050n)]
    expect(run([], cu, CUTOFF + GRACE - H).findings).toEqual([])
    expect(summary(run([], cu, CUTOFF + GRACE + H)).findings).toEqual([
      `deposit_missing:-->${C}:-515050`,
    ])
    const uncovered = matchBatches([], cu, [], none, {
      beforeMs: DAY,
      graceMs: GRACE,
      nowMs: CUTOFF + 10 * DAY,
      coverage: [[CUTOFF + 5 * DAY, CUTOFF + 9 * DAY]],
      maxGroup: 5,
    })
    expect(uncovered.findings).toEqual([])
    // a deposited cash-up is never missing
    expect(run([], [cashUp(C, 515050n, { status: 'deposited' })]).findings).toEqual([])
  })
})

describe('the bank profile reads CASH- without changing any fingerprint', () => {
  const header = ['Date', 'Value Date', 'Description', 'Reference', 'Debit', 'Credit', 'Balance']
  // The profile as it was before deposits were read: no depositPattern.
  const BEFORE = { ...BANK_PROFILE, depositPattern: undefined }
  const rows = [
    [
      '2026-11-30',
      '2026-11-30',
      'Cash deposit CASH-01JABCDEFG slip 42',
      'DEP 42',
      '',
      '5050.50',
      '',
    ],
    ['2026-11-30', '2026-11-30', 'ATM', 'ATM CASH-WITHDRAWAL', '200.00', '', ''],
    ['2026-11-30', '2026-11-30', 'Transfer SETTLEMENT-01JABCDEFG', 'TRF1', '', '10.00', ''],
    ['2026-11-30', '2026-11-30', 'Deposit', 'CASH-01JABCDEFG', '', '10.00', ''],
    ['2026-11-30', '2026-11-30', 'Plain', '', '', '10.00', ''],
  ]
  it('the reference is the CASH- token; the row key is the one the profile made before', () => {
    const cols = resolveColumns(BANK_PROFILE, header)
    const now = rows.map((r, i) => canonicalRow(BANK_PROFILE, cols, r, i + 2, 'KES'))
    const then = rows.map((r, i) => canonicalRow(BEFORE, cols, r, i + 2, 'KES'))
    expect(now.map((r) => r.reference)).toEqual([
      'CASH-01JABCDEFG',
      'CASH-WITHDRAWAL',
      'SETTLEMENT-01JABCDEFG',
      'CASH-01JABCDEFG',
      '',
    ])
    expect(then.map((r) => r.reference)).toEqual([
      'DEP 42',
      'ATM CASH-WITHDRAWAL',
      'SETTLEMENT-01JABCDEFG',
      'CASH-01JABCDEFG',
      '',
    ])
    const keys = (xs: typeof now) => xs.map((r) => keyHash(rowKey('br_1', 'bank', r)))
    expect(keys(now)).toEqual(keys(then))
    // control: keyed on the new reference, the first two lines would be new lines on re-import
    const naive = now.map(({ keyReference: _, ...r }) => keyHash(rowKey('br_1', 'bank', r)))
    expect(naive.filter((k, i) => k !== keys(then)[i])).toHaveLength(2)
  })
})
