import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/connect.js'
import { useStoreEnv } from '../helpers/dialects.js'
import { run, type Seed, seedPayments, setUpBranches } from '../helpers/recon-env.js'

/** A small deterministic PRNG (mulberry32), so the month is the same on every run. */
function prng(seed: number) {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// A restaurant menu: the same prices come back all day, so amount alone never identifies a payment.
const MENU = [25000n, 45000n, 65000n, 89000n, 120000n, 150000n, 235000n, 310000n, 480000n]

interface Line {
  receipt: string
  at: number
  amount: bigint
  status: 'Completed' | 'Failed'
  party: string
}
interface Truth {
  lines: number
  pairs: Map<string, string>
}

const pad = (n: number) => String(n).padStart(2, '0')
/** dd-mm-yyyy HH:MM:SS in Africa/Nairobi (UTC+3, no summer time). */
function nairobi(ms: number) {
  const d = new Date(ms + 3 * 3_600_000)
  return `${pad(d.getUTCDate())}-${pad(d.getUTCMonth() + 1)}-${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
}
const money = (minor: bigint) => {
  const neg = minor < 0n
  const m = neg ? -minor : minor
  const whole = (m / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return `${neg ? '-' : ''}${whole}.${(m % 100n).toString().padStart(2, '0')}`
}

/**
 * A month of one branch: M-Pesa payments as dsh recorded them (callbacks with receipts, STK
 * queries without, lost callbacks left in needs_review, failures) and the statement the provider
 * would send for the same money (plus money dsh never saw, and a few wrong amounts).
 */
function month(code: string, seed: number) {
  const rnd = prng(seed)
  const seeds: Seed[] = []
  const lines: Line[] = []
  const pairs = new Map<string, string>()
  let n = 0
  const start = Date.UTC(2026, 10, 1) - 3 * 3_600_000
  for (let day = 0; day < 30; day++) {
    const perDay = 8 + Math.floor(rnd() * 6)
    for (let k = 0; k < perDay; k++) {
      n++
      const at =
        start +
        day * 86_400_000 +
        (8 * 60 + Math.floor(rnd() * 13 * 60)) * 60_000 +
        Math.floor(rnd() * 60) * 1000
      const amount = MENU[Math.floor(rnd() * MENU.length)] as bigint
      const id = `pay_${code}_${String(n).padStart(4, '0')}`
      const receipt = `${code.slice(0, 2).toUpperCase()}M${String(n).padStart(7, '0')}`
      const phone = `2547${String(10_000_000 + Math.floor(rnd() * 89_999_999))}`
      const party = `${phone.slice(0, 6)}***${phone.slice(-3)} - CUSTOMER`
      const booked = at + 5_000 + Math.floor(rnd() * 85_000)
      const r = rnd()
      if (r < 0.9) {
        seeds.push({
          id,
          at: new Date(at).toISOString(),
          amount,
          status: 'succeeded',
          receipt,
          phone,
        })
        lines.push({ receipt, at: booked, amount, status: 'Completed', party })
        pairs.set(receipt, id)
      } else if (r < 0.96) {
        // Resolved by an STK query (lost callback): succeeded, no receipt.
        seeds.push({
          id,
          at: new Date(at).toISOString(),
          amount,
          status: 'succeeded',
          receipt: null,
          phone,
        })
        lines.push({ receipt, at: booked, amount, status: 'Completed', party })
        pairs.set(receipt, id)
      } else if (r < 0.97) {
        // Recovery gave up: needs_review, but the money arrived.
        seeds.push({
          id,
          at: new Date(at).toISOString(),
          amount,
          status: 'needs_review',
          receipt: null,
          phone,
        })
        lines.push({ receipt, at: booked, amount, status: 'Completed', party })
      } else if (r < 0.985) {
        // The customer cancelled: a failed payment and a failed statement row.
        seeds.push({
          id,
          at: new Date(at).toISOString(),
          amount,
          status: 'failed',
          receipt: null,
          phone,
        })
        lines.push({ receipt, at: booked, amount, status: 'Failed', party })
      } else if (r < 0.99) {
        // dsh says succeeded, no money.
        seeds.push({
          id,
          at: new Date(at).toISOString(),
          amount,
          status: 'succeeded',
          receipt,
          phone,
        })
      } else if (r < 0.995) {
        // A wrong amount on the statement.
        seeds.push({
          id,
          at: new Date(at).toISOString(),
          amount,
          status: 'succeeded',
          receipt,
          phone,
        })
        lines.push({ receipt, at: booked, amount: amount - 100n, status: 'Completed', party })
      } else {
        // Money dsh never heard of (a till payment typed by hand).
        lines.push({ receipt, at: booked, amount, status: 'Completed', party })
      }
    }
  }
  lines.sort((a, b) => a.at - b.at || a.receipt.localeCompare(b.receipt))
  let balance = 5_000_000n
  const rows = lines.map((l) => {
    if (l.status === 'Completed') balance += l.amount
    const t = nairobi(l.at)
    return [
      l.receipt,
      t,
      t,
      'Pay Bill Online',
      l.status,
      `"${money(l.amount)}"`,
      '',
      `"${money(balance)}"`,
      'true',
      'Pay Bill Online',
      l.party,
      '',
      code.toUpperCase(),
    ].join(',')
  })
  const csv = [
    'Organisation Name:,ACME RESTAURANTS LTD',
    'Organisation Short Code:,174379',
    'Time Period: From 01-11-2026 To 30-11-2026',
    '',
    'Receipt No.,Completion Time,Initiation Time,Details,Transaction Status,Paid In,Withdrawn,Balance,Balance Confirmed,Reason Type,Other Party Info,Linked Transaction ID,A/C No.',
    ...rows.reverse(),
  ].join('\r\n')
  const truth: Truth = { lines: lines.filter((l) => l.status === 'Completed').length, pairs }
  return { seeds, csv: `\ufeff${csv}\r\n`, truth }
}

describe('a generated month of a 3-branch business', () => {
  const s = useStoreEnv('sqlite')
  const tmp = mkdtempSync(join(tmpdir(), 'dsh-month-'))
  afterAll(() => rmSync(tmp, { recursive: true, force: true }))
  const branches = ['westlands', 'karen', 'kilimani'] as const
  const months = branches.map((b, i) => ({ code: b, ...month(b, 1000 + i) }))
  beforeAll(async () => {
    await setUpBranches(s.env, branches)
    for (const m of months) {
      await seedPayments(s.env, m.code, m.seeds)
      const file = join(tmp, `${m.code}.csv`)
      writeFileSync(file, m.csv)
      const imp = await run(s.env, [
        'reconcile',
        'import',
        file,
        '--branch',
        m.code,
        '--profile',
        'mpesa',
        '--json',
      ])
      expect(imp.json()).toMatchObject({ rejected: 0, balanceBreaks: [] })
    }
  }, 300_000)

  it('matches at least 95% of statement lines automatically, with zero wrong matches', async () => {
    const rates: number[] = []
    for (const m of months) {
      const r = await run(s.env, ['reconcile', 'run', '--branch', m.code, '--json'], 8)
      const report = r.json<{
        summary: {
          lines: number
          matched: number
          autoMatchRateBp: number
          byCategory: Record<string, number>
        }
      }>()
      expect(report.summary.lines).toBe(m.truth.lines)
      expect(report.summary.autoMatchRateBp).toBeGreaterThanOrEqual(9_500)
      rates.push(report.summary.autoMatchRateBp)
      const store = await openStore(s.db)
      try {
        const matched = await store.db
          .selectFrom('recon_matches as m')
          .innerJoin('statement_lines as l', 'l.id', 'm.statement_line_id')
          .innerJoin('branches as b', 'b.id', 'l.branch_id')
          .select(['l.transaction_id', 'm.payment_id'])
          .where('b.code', '=', m.code)
          .where('m.unmatched_at', 'is', null)
          .execute()
        const wrong = matched.filter(
          (x) => m.truth.pairs.get(x.transaction_id ?? '') !== x.payment_id,
        )
        expect(wrong).toEqual([])
        expect(matched.length).toBe(report.summary.matched)
      } finally {
        await store.close()
      }
    }
    console.log(
      `month auto-match rates (bp): ${months.map((m, i) => `${m.code} ${rates[i]}`).join(', ')}`,
    )
  })
})
