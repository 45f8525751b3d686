import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess } from '../helpers/run-cli.js'
import { addPayments, fixedClock, ok, seedSettlement } from '../settlement/helpers.js'

interface Batch {
  id: string
  reference: string
  status: string
  gateway: string
  netMinor: number
  net: string
  bankRef: string | null
  transfer: { sentAt: string } | null
}
interface Disc {
  category: string
  pass: string
  statementLine: { id: string; reference: string } | null
  batch: { id: string; reference: string; netMinor: number } | null
  expectedMinor: number
  actualMinor: number
}

const money = (minor: number) =>
  `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`

describe.each(DIALECTS)(
  'bank statements against settlement batches ($name)',
  ({ name, enabled }) => {
    const s = useStoreEnv(name)
    const tmp = mkdtempSync(join(tmpdir(), 'dsh-bank-'))
    afterAll(() => rmSync(tmp, { recursive: true, force: true }))
    const clock = fixedClock('2026-11-05T06:00:00.000Z')
    const run = (args: string[]) => runInProcess(args, { env: s.env, clock })
    let batches: Batch[] = []
    let report: {
      summary: { lines: number; matched: number; byCategory: Record<string, number> }
      discrepancies: Disc[]
    }
    beforeAll(async () => {
      if (!enabled) return
      await seedSettlement(s.home, s.env)
      await ok(s.env, [
        'branch',
        'settlement-account',
        'westlands',
        '--account-name',
        'Westlands Ltd',
        '--account-number',
        '0011223344',
        '--bank-name',
        'KCB',
        '--bank-code',
        '01',
        '--at',
        '02:00',
        '--holding-hours',
        '0',
      ])
      await ok(s.env, [
        'tenant',
        'collection-account',
        'acme',
        '--currency',
        'KES',
        '--account-name',
        'Acme Collections',
        '--account-number',
        '0100200300',
        '--bank-name',
        'KCB',
      ])
      // Three days of KCB M-Pesa and card payments: each daily run makes one batch per gateway
      // (cash would be a cash-up the branch banks, not a transfer: see test/settlement/cash-ups).
      const specs = []
      for (let day = 1; day <= 3; day++)
        for (const gateway of ['mpesa-kcb', 'stripe'])
          for (let k = 0; k < 3; k++)
            specs.push({
              id: `pay_${gateway}_${day}_${k}`,
              branch: 'westlands',
              gateway,
              amount: BigInt(100_000 * day + 1_000 * k + (gateway === 'mpesa-kcb' ? 17 : 29)),
              currency: 'KES',
              completedAt: `2026-11-0${day}T08:00:00.000Z`,
              fee: null,
            })
      await addPayments(s.db, specs)
      for (const day of [2, 3, 4]) {
        clock.set(`2026-11-0${day}T00:00:00.000Z`)
        const r = await run([
          'settle',
          '--branch',
          'westlands',
          '--date',
          `2026-11-0${day}`,
          '--json',
        ])
        expect(r.code, r.stderr).toBe(0)
      }
      clock.set('2026-11-10T06:00:00.000Z')
      batches = (await run(['settlements', 'list', '--json']))
        .json<Batch[]>()
        .sort((a, b) => (a.id < b.id ? -1 : 1))
      expect(batches.map((b) => b.status)).toEqual(Array(6).fill('processing'))
      const [a, b, c, d, e] = batches as [Batch, Batch, Batch, Batch, Batch, Batch]
      const rows = [
        // A: its reference and its net: a match that completes it.
        ['2026-11-05', `Transfer ${a.reference}`, 'TRF001', '', money(a.netMinor)],
        // B: its reference but one cent short: fee_mismatch, never a match.
        ['2026-11-05', `Transfer ${b.reference}`, 'TRF002', '', money(b.netMinor - 1)],
        // C: no reference, its exact net after it was sent: unique by amount and date.
        ['2026-11-06', 'Incoming transfer', 'TRF003', '', money(c.netMinor)],
        // D + E pooled into one credit.
        ['2026-11-06', 'Bulk settlement', 'TRF004', '', money(d.netMinor + e.netMinor)],
        // Money nobody expected, and a bank charge (debits are not reconciled).
        ['2026-11-07', 'Deposit', 'DEP777', '', '1234.00'],
        ['2026-11-07', 'Ledger fee', 'CHG1', '150.00', ''],
      ]
      const csv = [
        'Date,Value Date,Description,Reference,Debit,Credit,Balance',
        ...rows.map(
          ([date, desc, ref, debit, credit]) =>
            `${date},${date},${desc},${ref},${debit},${credit},`,
        ),
      ].join('\n')
      writeFileSync(join(tmp, 'kcb.csv'), `${csv}\n`)
      const imp = await run([
        'reconcile',
        'import',
        join(tmp, 'kcb.csv'),
        '--branch',
        'westlands',
        '--profile',
        'bank',
        '--json',
      ])
      expect(imp.code, imp.stderr).toBe(0)
      const r = await run(['reconcile', 'run', '--branch', 'westlands', '--grace', '3d', '--json'])
      expect(r.code, r.stderr).toBe(8)
      report = r.json()
    }, 120_000)

    it.runIf(enabled)(
      'a SETTLEMENT reference with the net completes the batch with the statement reference',
      async () => {
        const a = batches[0] as Batch
        const shown = (await run(['settlements', 'show', a.id, '--json'])).json<
          Batch & { payments: { paymentId?: string; id?: string }[] }
        >()
        expect(shown).toMatchObject({ status: 'completed', bankRef: a.reference })
        const pay = (await run(['payments', 'list', '--json'])).json<
          { id: string; settlementBatchId: string | null; settlementStatus?: string }[]
        >()
        const members = pay.filter((p) => p.settlementBatchId === a.id)
        expect(members.length).toBe(3)
        // Completing the batch settled its payments; the payments of the batch left processing
        // (net − 1) are still batched.
        expect(members.map((p) => p.settlementStatus)).toEqual(['settled', 'settled', 'settled'])
        const b = batches[1] as Batch
        const held = pay.filter((p) => p.settlementBatchId === b.id)
        expect(held.length).toBeGreaterThan(0)
        expect(new Set(held.map((p) => p.settlementStatus))).toEqual(new Set(['batched']))
      },
    )

    it.runIf(enabled)(
      'net − 1 is fee_mismatch, never a match; the rest is matched or reported by category',
      async () => {
        const [a, b, c, d, e, f] = batches as [Batch, Batch, Batch, Batch, Batch, Batch]
        const got = report.discrepancies
          .map((x) => `${x.category}|${x.batch?.id ?? '-'}|${x.statementLine?.reference ?? '-'}`)
          .sort()
        expect(got).toEqual(
          [
            `fee_mismatch|${b.id}|${b.reference}`,
            'missing_in_dsh|-|DEP777',
            `late|${f.id}|-`,
          ].sort(),
        )
        const fee = report.discrepancies.find((x) => x.category === 'fee_mismatch')
        expect(fee).toMatchObject({
          expectedMinor: b.netMinor,
          actualMinor: b.netMinor - 1,
          batch: { reference: b.reference },
        })
        expect(report.summary).toMatchObject({ lines: 5, matched: 3 })
        const status = async (id: string) =>
          (await run(['settlements', 'show', id, '--json'])).json<Batch>().status
        expect(await status(b.id)).toBe('processing')
        for (const x of [a, c, d, e]) expect(await status(x.id)).toBe('completed')
        expect(await status(f.id)).toBe('processing')
      },
    )

    it.runIf(enabled)('a re-run keeps the matches and completes nothing twice', async () => {
      const again = (await run(['reconcile', 'run', '--branch', 'westlands', '--json'])).json<
        typeof report
      >()
      expect(again.summary).toMatchObject({ lines: 5, matched: 3 })
      const audit = (
        await run(['audit', 'list', '--action', 'settlement.complete', '--json'])
      ).json<unknown[]>()
      expect(audit).toHaveLength(4)
    })

    it.runIf(enabled)(
      'confirming a fee_mismatch pair completes the batch; the decision survives re-runs',
      async () => {
        const b = batches[1] as Batch
        const line = report.discrepancies.find((x) => x.category === 'fee_mismatch')?.statementLine
          ?.id as string
        const r = await run([
          'reconcile',
          'confirm',
          line,
          '--reason',
          'bank charged KES 0.01',
          '--json',
        ])
        expect(r.code, r.stderr).toBe(0)
        expect(r.json()).toMatchObject({ decision: 'confirm', batch: { id: b.id } })
        expect((await run(['settlements', 'show', b.id, '--json'])).json<Batch>().status).toBe(
          'completed',
        )
        const again = (await run(['reconcile', 'run', '--branch', 'westlands', '--json'])).json<
          typeof report
        >()
        expect(again.discrepancies.map((x) => x.category).sort()).toEqual([
          'late',
          'missing_in_dsh',
        ])
        expect(again.summary).toMatchObject({ lines: 5, matched: 4 })
      },
    )
  },
)
