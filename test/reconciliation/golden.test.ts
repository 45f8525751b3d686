import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/connect.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { run, type Seed, seedPayments, setUpBranches } from '../helpers/recon-env.js'

const GOLDEN = fileURLToPath(new URL('../../fixtures/statements/golden/', import.meta.url))
const seeds = JSON.parse(readFileSync(`${GOLDEN}payments.json`, 'utf8')) as Seed[]
const truth = JSON.parse(readFileSync(`${GOLDEN}truth.json`, 'utf8')) as {
  lines: number
  matches: { reference: string; payment: string; pass: string }[]
  discrepancies: { category: string; reference: string | null; payment: string | null }[]
}

interface Disc {
  id: string
  category: string
  severity: string
  pass: string
  statementLine: { id: string; reference: string; amountMinor: number } | null
  payment: { id: string; receiptNumber: string | null } | null
  expectedMinor: number
  actualMinor: number
  differenceMinor: number
  difference: string
  suggestion: string | null
}
interface Report {
  runId: string
  summary: {
    lines: number
    matched: number
    discrepancies: number
    byCategory: Record<string, number>
    autoMatchRateBp: number
  }
  discrepancies: Disc[]
}

const key = (d: { category: string; reference: string | null; payment: string | null }) =>
  `${d.category}|${d.reference ?? '-'}|${d.payment ?? '-'}`
const found = (r: Report) =>
  r.discrepancies
    .map((d) =>
      key({
        category: d.category,
        reference: d.statementLine?.reference ?? null,
        payment: d.payment?.id ?? null,
      }),
    )
    .sort()

describe.each(DIALECTS)('golden M-Pesa fixture with known truth ($name)', ({ name, enabled }) => {
  const s = useStoreEnv(name)
  let first: Report
  let firstText: string
  beforeAll(async () => {
    if (!enabled) return
    await setUpBranches(s.env, ['westlands'])
    await seedPayments(s.env, 'westlands', seeds)
    const imp = await run(s.env, [
      'reconcile',
      'import',
      `${GOLDEN}mpesa.csv`,
      '--branch',
      'westlands',
      '--profile',
      'mpesa',
      '--json',
    ])
    expect(imp.json()).toMatchObject({ lines: 209, imported: 209, balanceBreaks: [] })
    const r = await run(s.env, ['reconcile', 'run', '--branch', 'westlands', '--json'], 8)
    first = r.json<Report>()
    firstText = r.stdout
  }, 120_000)

  it.runIf(enabled)('finds every planted discrepancy with its category, and nothing else', () => {
    expect(found(first)).toEqual(truth.discrepancies.map(key).sort())
    expect(first.summary).toEqual({
      lines: truth.lines,
      matched: truth.matches.length,
      discrepancies: truth.discrepancies.length,
      byCategory: {
        missing_in_statement: 2,
        missing_in_dsh: 3,
        amount_mismatch: 1,
        fee_mismatch: 0,
        duplicate_in_statement: 1,
        ambiguous: 1,
        late: 0,
        deposit_short: 0,
        deposit_over: 0,
        deposit_missing: 0,
      },
      autoMatchRateBp: Math.floor((truth.matches.length * 10_000) / truth.lines),
    })
    expect(first.summary.autoMatchRateBp).toBeGreaterThanOrEqual(9_500)
    const amount = first.discrepancies.find((d) => d.category === 'amount_mismatch')
    expect(amount).toMatchObject({
      severity: 'high',
      pass: 'exact_reference',
      expectedMinor: 100000,
      actualMinor: 99000,
      differenceMinor: -1000,
      difference: '-10.00',
    })
    const lost = first.discrepancies.find(
      (d) => d.category === 'missing_in_dsh' && d.payment?.id === 'pay_p_lost',
    )
    expect(lost?.suggestion).toBe(
      `probably payment pay_p_lost (needs_review): dsh reconcile adopt ${lost?.statementLine?.id} pay_p_lost`,
    )
    const amb = first.discrepancies.find((d) => d.category === 'ambiguous')
    expect(amb?.suggestion).toContain('candidates: pay_p_amb1, pay_p_amb2')
    expect(first.discrepancies.find((d) => d.category === 'missing_in_statement')?.severity).toBe(
      'critical',
    )
  })

  it.runIf(enabled)(
    'every automatic match is right (100% precision), and STK-query payments get their receipt',
    async () => {
      const store = await openStore(s.db)
      try {
        const rows = await store.db
          .selectFrom('recon_matches as m')
          .innerJoin('statement_lines as l', 'l.id', 'm.statement_line_id')
          .select(['l.transaction_id', 'm.payment_id', 'm.pass'])
          .where('m.unmatched_at', 'is', null)
          .execute()
        const got = rows.map((r) => `${r.transaction_id}|${r.payment_id}|${r.pass}`).sort()
        expect(got).toEqual(
          truth.matches.map((m) => `${m.reference}|${m.payment}|${m.pass}`).sort(),
        )
        const stk = truth.matches.filter((m) => m.pass === 'amount_time')
        expect(stk.length).toBeGreaterThan(10)
        const paid = await store.db
          .selectFrom('payments')
          .select(['id', 'receipt_number'])
          .where(
            'id',
            'in',
            stk.map((m) => m.payment),
          )
          .execute()
        expect(Object.fromEntries(paid.map((p) => [p.id, p.receipt_number]))).toEqual(
          Object.fromEntries(stk.map((m) => [m.payment, m.reference])),
        )
      } finally {
        await store.close()
      }
    },
  )

  it.runIf(enabled)(
    'report prints the stored run byte for byte, as CSV and with the rate',
    async () => {
      const json = await run(s.env, ['reconcile', 'report', first.runId, '--format', 'json'])
      expect(json.stdout).toBe(firstText)
      const csv = await run(s.env, ['reconcile', 'report', first.runId, '--format', 'csv'])
      const rows = csv.stdout.trim().split('\n')
      expect(rows[0]).toMatch(/^id,category,severity,pass,rule,line_id/)
      expect(rows).toHaveLength(truth.discrepancies.length + 1)
      const table = await run(s.env, ['reconcile', 'report', first.runId])
      expect(table.stdout).toContain(
        `${truth.lines} statement line(s), ${truth.matches.length} matched, auto-matched ${(first.summary.autoMatchRateBp / 100).toFixed(2)}%`,
      )
    },
  )

  it.runIf(enabled)(
    'decisions survive re-runs: adopt clears a lost callback, ignore and reject stick',
    async () => {
      const lineOf = (ref: string, cat: string) =>
        first.discrepancies.find((d) => d.category === cat && d.statementLine?.reference === ref)
          ?.statementLine?.id as string
      const lost = lineOf('RKP0000006', 'missing_in_dsh')
      const unknown = lineOf('RKP0000007', 'missing_in_dsh')
      const amb = lineOf('RKP0000009', 'ambiguous')
      // A failed payment cannot be adopted (exit 5); nothing changes.
      const refused = await run(
        s.env,
        ['reconcile', 'adopt', lost, 'pay_p_failed', '--reason', 'x'],
        5,
      )
      expect(refused.stderr).toContain('payment pay_p_failed is failed and cannot become succeeded')
      const adopted = await run(s.env, ['reconcile', 'adopt', lost, 'pay_p_lost', '--json'])
      expect(adopted.json()).toMatchObject({
        decision: 'adopt',
        payment: { id: 'pay_p_lost', receiptNumber: 'RKP0000006' },
      })
      const shown = await run(s.env, ['payments', 'show', 'pay_p_lost', '--json'])
      expect(shown.json()).toMatchObject({ status: 'succeeded', receiptNumber: 'RKP0000006' })
      await run(s.env, ['reconcile', 'ignore', unknown, '--reason', 'owner top-up', '--json'])
      // Reject one of the two ambiguous candidates: the other becomes unique and matches.
      await run(s.env, ['reconcile', 'reject', amb, 'pay_p_amb1', '--reason', 'other till'])
      const again = (
        await run(s.env, ['reconcile', 'run', '--branch', 'westlands', '--json'], 8)
      ).json<Report>()
      const expected = truth.discrepancies
        .filter((d) => !['RKP0000006', 'RKP0000007', 'RKP0000009'].includes(d.reference ?? ''))
        .map(key)
      // pay_p_amb1 lost its only line: the statement does not show it.
      expected.push(
        key({ category: 'missing_in_statement', reference: null, payment: 'pay_p_amb1' }),
      )
      expect(found(again)).toEqual(expected.sort())
      expect(again.summary.lines).toBe(truth.lines - 1)
      expect(again.summary.matched).toBe(truth.matches.length + 2)
      const third = (
        await run(s.env, ['reconcile', 'run', '--branch', 'westlands', '--json'], 8)
      ).json<Report>()
      expect(found(third)).toEqual(found(again))
      const explained = (await run(s.env, ['reconcile', 'explain', amb, '--json'])).json<{
        state: string
        match: { paymentId: string; pass: string }
        candidates: { paymentId: string; failed: string | null }[]
      }>()
      expect(explained.state).toBe('matched')
      expect(explained.match).toMatchObject({ paymentId: 'pay_p_amb2', pass: 'amount_time' })
      expect(explained.candidates.find((c) => c.paymentId === 'pay_p_amb1')?.failed).toBe(
        'rejected',
      )
      const audit = await run(s.env, ['audit', 'list', '--action', 'reconcile.*', '--json'])
      expect(audit.json<{ action: string }[]>().map((a) => a.action)).toEqual([
        'reconcile.run',
        'reconcile.adopt',
        'reconcile.ignore',
        'reconcile.reject',
        'reconcile.run',
        'reconcile.run',
      ])
    },
  )

  it.runIf(enabled)('--fail-on narrows what fails; --dry-run writes nothing', async () => {
    const narrowed = await run(s.env, [
      'reconcile',
      'run',
      '--branch',
      'westlands',
      '--fail-on',
      'late,fee_mismatch',
      '--dry-run',
      '--json',
    ])
    expect(narrowed.json<Report>().summary.discrepancies).toBeGreaterThan(0)
    const bad = await run(
      s.env,
      ['reconcile', 'run', '--branch', 'westlands', '--fail-on', 'nope'],
      3,
    )
    expect(bad.stderr).toContain('unknown category "nope"')
  })
})
