import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.js'
import { matchSettlementCallback } from '../../src/settlement/batches.js'
import { isUniqueViolation } from '../../src/store/errors.js'
import { requireBranch } from '../../src/tenants/branches.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess, testRuntime } from '../helpers/run-cli.js'
import {
  addPayments,
  fixedClock,
  ok,
  type PaymentSpec,
  ratePart,
  seedSettlement,
  withStore,
} from './helpers.js'

interface Batch {
  id: string
  kind: string
  reference: string
  depositReference: string | null
  expectedMinor: number | null
  expected: string | null
  branch: string
  gateway: string
  currency: string
  status: string
  paymentCount: number
  grossMinor: number
  feesMinor: number
  netMinor: number
  failureReason: string | null
  transfer: { adapter: string; files: string[] } | null
}
interface Report {
  batches: Batch[]
  sent: string[]
  nothingToDo: boolean
}
interface Disc {
  category: string
  severity: string
  pass: string
  rule: string
  statementLine: { id: string; reference: string } | null
  batch: { id: string; kind: string; reference: string } | null
  expectedMinor: number
  actualMinor: number
  differenceMinor: number
  difference: string
}
interface Run {
  runId: string
  summary: { byCategory: Record<string, number> }
  discrepancies: Disc[]
}

const KES = (rateBp: number, flat: bigint) => ({ rateBp, flat, convBp: 0 })
const DAY1 = '2026-11-29T08:00:00.000Z'
/** A day at westlands: cash, M-Pesa (two gateways) and card. */
const PAYMENTS: PaymentSpec[] = [
  // cash: Σ 5,150.50; a recorded fee does not make a cash-up pay one
  {
    id: 'c1',
    branch: 'westlands',
    gateway: 'cash',
    amount: 200000n,
    currency: 'KES',
    completedAt: DAY1,
    fee: KES(150, 100n),
  },
  {
    id: 'c2',
    branch: 'westlands',
    gateway: 'cash',
    amount: 300050n,
    currency: 'KES',
    completedAt: DAY1,
    fee: null,
  },
  {
    id: 'c3',
    branch: 'westlands',
    gateway: 'cash',
    amount: 15000n,
    currency: 'KES',
    completedAt: DAY1,
    fee: KES(0, 0n),
  },
  {
    id: 'm1',
    branch: 'westlands',
    gateway: 'mpesa',
    amount: 120000n,
    currency: 'KES',
    completedAt: DAY1,
    fee: KES(50, 0n),
  },
  // no recorded fee: the tenant's mpesa-kcb configuration (1.5 % + KES 1, settlement fee KES 10)
  {
    id: 'k1',
    branch: 'westlands',
    gateway: 'mpesa-kcb',
    amount: 80000n,
    currency: 'KES',
    completedAt: DAY1,
    fee: null,
  },
  {
    id: 's1',
    branch: 'westlands',
    gateway: 'stripe',
    amount: 250000n,
    currency: 'KES',
    completedAt: DAY1,
    fee: KES(290, 3000n),
  },
  // a UGX branch that takes only cash (and has no UGX collection account)
  {
    id: 'u1',
    branch: 'entebbe',
    gateway: 'cash',
    amount: 70000n,
    currency: 'UGX',
    completedAt: DAY1,
    fee: null,
  },
  {
    id: 'u2',
    branch: 'entebbe',
    gateway: 'cash',
    amount: 5001n,
    currency: 'UGX',
    completedAt: DAY1,
    fee: null,
  },
]
/** The non-cash nets, computed here: m1 − 0.5 %; k1 − (1.5 % + 1.00) − 10.00; s1 − (2.9 % + 30.00) − 25.00. */
const NON_CASH_NET =
  120000n -
  ratePart(120000n, 50) +
  (80000n - ratePart(80000n, 150) - 100n - 1000n) +
  (250000n - ratePart(250000n, 290) - 3000n - 2500n)

const minorOf = (decimal: string) => {
  const [w = '0', f = ''] = decimal.split('.')
  return BigInt(w) * 100n + BigInt(f.padEnd(2, '0'))
}
const money = (minor: number) =>
  `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`

describe.each(DIALECTS)('cash is banked, not transferred ($name)', ({ name, enabled }) => {
  describe.runIf(enabled)('cash-ups', () => {
    const s = useStoreEnv(name)
    const clock = fixedClock('2026-11-30T09:00:00.000Z')
    const run = (...args: string[]) => runInProcess(args, { env: s.env, clock })
    const settle = async (branch: string, date: string) => {
      const r = await run('settle', '--branch', branch, '--date', date, '--json')
      expect(r.code, r.stderr).toBe(0)
      return r.json<Report>()
    }
    const account = (branch: string, cur: string, extra: string[] = []) =>
      ok(s.env, [
        'branch',
        'settlement-account',
        branch,
        '--currency',
        cur,
        '--account-name',
        `${branch} Ltd`,
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
        ...extra,
      ])
    const outbox = () =>
      existsSync(join(s.home, 'outbox')) ? readdirSync(join(s.home, 'outbox')) : []

    beforeAll(async () => {
      await seedSettlement(s.home, s.env)
      await ok(s.env, [
        'branch',
        'add',
        'entebbe',
        '--tenant',
        'acme',
        '--name',
        'Entebbe',
        '--currency',
        'UGX',
      ])
      await ok(s.env, [
        'branch',
        'add',
        'legacy',
        '--tenant',
        'acme',
        '--name',
        'Legacy',
        '--currency',
        'KES',
      ])
      await account('westlands', 'KES')
      await account('entebbe', 'UGX')
      await account('legacy', 'KES')
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
        '--bank-code',
        '01',
      ])
      await addPayments(s.db, PAYMENTS)
    })

    let day: Report
    it('dsh settle prints the cash to bank with its deposit reference (dry run)', async () => {
      const r = await run('settle', '--branch', 'westlands', '--date', '2026-11-30', '--dry-run')
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toMatch(
        /^bank KES 5,150\.50 in cash at westlands \(deposit reference CASH-[0-9A-Z]{10}\)$/m,
      )
      expect(outbox()).toEqual([])
    })

    it('a day of cash, M-Pesa and card: a cash-up of Σ cash, no transfer and no file for cash; the files sum to the non-cash nets', async () => {
      day = await settle('westlands', '2026-11-30')
      const cash = day.batches.filter((b) => b.kind === 'cash_deposit')
      const transfers = day.batches.filter((b) => b.kind === 'transfer')
      expect(cash).toHaveLength(1)
      const cu = cash[0] as Batch
      expect(cu).toMatchObject({
        gateway: 'cash',
        currency: 'KES',
        status: 'awaiting_deposit',
        reference: `CASH-${cu.id.slice(-10)}`,
        depositReference: `CASH-${cu.id.slice(-10)}`,
        expectedMinor: 515050,
        expected: '5150.50',
        paymentCount: 3,
        grossMinor: 515050,
        feesMinor: 0,
        netMinor: 515050,
        transfer: null,
      })
      expect(transfers.map((b) => b.gateway)).toEqual(['mpesa', 'mpesa-kcb', 'stripe'])
      for (const b of transfers)
        expect(b).toMatchObject({
          depositReference: null,
          expectedMinor: null,
          expected: null,
          status: 'processing',
        })
      expect(BigInt(transfers.reduce((a, b) => a + b.netMinor, 0))).toBe(NON_CASH_NET)
      expect(day.sent.sort()).toEqual(transfers.map((b) => b.id).sort())
      // the outbox: the transfers' CSV and pain.001, nothing of the cash-up
      expect(outbox().sort()).toEqual(
        transfers.flatMap((b) => [`${b.reference}.csv`, `${b.reference}.xml`]).sort(),
      )
      let csvSum = 0n
      let xmlSum = 0n
      for (const b of transfers) {
        const csv = readFileSync(join(s.home, 'outbox', `${b.reference}.csv`), 'utf8')
          .trim()
          .split('\n')
        const cells = (csv[1] as string).split(',')
        expect(cells[2]).toBe('0100200300') // debtor: the collection account
        csvSum += minorOf(cells[7] as string)
        const xml = readFileSync(join(s.home, 'outbox', `${b.reference}.xml`), 'utf8')
        xmlSum += minorOf(/<CtrlSum>([\d.]+)<\/CtrlSum>/.exec(xml)?.[1] ?? '0')
        expect(xml).not.toContain('CASH-')
      }
      expect(csvSum).toBe(NON_CASH_NET)
      expect(xmlSum).toBe(NON_CASH_NET)
      for (const id of ['c1', 'c2', 'c3'])
        expect((await run('payments', 'show', id, '--json')).json()).toMatchObject({
          settlementStatus: 'batched',
          settlementBatchId: cu.id,
        })
      // a rerun makes nothing more and sends nothing
      expect(await settle('westlands', '2026-11-30')).toMatchObject({
        nothingToDo: true,
        batches: [],
        sent: [],
      })
    })

    it('a branch with only cash needs no collection account; settlements list/show know cash-ups', async () => {
      const r = await settle('entebbe', '2026-11-30')
      expect(r.batches.map((b) => [b.kind, b.status, b.expectedMinor, b.expected])).toEqual([
        ['cash_deposit', 'awaiting_deposit', 75001, '75001'],
      ])
      expect(r.sent).toEqual([])
      const awaiting = (
        await run('settlements', 'list', '--status', 'awaiting_deposit', '--json')
      ).json<Batch[]>()
      expect(awaiting.map((b) => b.branch).sort()).toEqual(['entebbe', 'westlands'])
      const bad = await run('settlements', 'list', '--status', 'banked')
      expect(bad.code).toBe(3)
      expect(bad.stderr).toContain('awaiting_deposit, deposited')
      const cu = day.batches.find((b) => b.kind === 'cash_deposit') as Batch
      const shown = (await run('settlements', 'show', cu.id, '--json')).json<
        Batch & {
          payments: { paymentId: string; feeMinor: number; netMinor: number }[]
          timeline: { action: string }[]
        }
      >()
      expect(shown.kind).toBe('cash_deposit')
      expect(shown.payments.map((p) => [p.paymentId, p.feeMinor, p.netMinor])).toEqual([
        ['c1', 0, 200000],
        ['c2', 0, 300050],
        ['c3', 0, 15000],
      ])
      expect(shown.timeline.map((t) => t.action)).toEqual(['settlement.create'])
      const human = await run('settlements', 'show', cu.id)
      expect(human.stdout).toContain('Deposit reference')
      expect(human.stdout).toContain('KES 5,150.50')
      // dsh report: pending settlement (transfers) vs pending deposit (cash to bank)
      const rep = (await run('report', '--branch', 'westlands', '--json')).json<{
        settlement: {
          pending: unknown[]
          pendingDeposit: { currency: string; count: number; amountMinor: number }[]
          awaitingDeposit: { depositReference: string; expectedMinor: number }[]
        }
      }>()
      expect(rep.settlement.pending).toEqual([])
      expect(rep.settlement.pendingDeposit).toMatchObject([
        { currency: 'KES', count: 3, amountMinor: 515050 },
      ])
      expect(rep.settlement.awaitingDeposit).toMatchObject([
        { depositReference: cu.reference, expectedMinor: 515050 },
      ])
      const text = (await run('report', '--branch', 'westlands')).stdout
      expect(text).toContain('pending settlement: none')
      expect(text).toContain('pending deposit (cash to bank): KES 5,150.50 in 3 payments')
      expect(text).toContain(`awaiting deposit: KES 5,150.50 with reference ${cu.reference}`)
      // the period's end in the branch's local time, never ISO UTC
      expect(text).toMatch(
        /with reference CASH-\w+ \(period to \d{4}-\d{2}-\d{2} \d{2}:\d{2} EAT\)/,
      )
      // a cash-up is neither retried nor failed: nothing was sent
      expect((await run('settlements', 'retry', cu.id)).code).toBe(5)
      expect((await run('settlements', 'fail', cu.id, '--reason', 'x')).code).toBe(5)
    })

    it('a deposit CASH-… short by 100.00 is exactly one deposit_short of -100.00; the cash-up stays awaiting', async () => {
      clock.set('2026-12-01T09:00:00.000Z')
      const cu = day.batches.find((b) => b.kind === 'cash_deposit') as Batch
      const transfers = day.batches.filter((b) => b.kind === 'transfer')
      const rows = [
        ['2026-11-30', `Cash deposit ${cu.reference} slip 42`, 'DEP42', '', money(515050 - 10000)],
        ...transfers.map((b, i) => [
          '2026-11-30',
          `Transfer ${b.reference}`,
          `TRF${i}`,
          '',
          money(b.netMinor),
        ]),
      ]
      const file = join(s.home, 'westlands-bank.csv')
      writeFileSync(
        file,
        `${['Date,Value Date,Description,Reference,Debit,Credit,Balance', ...rows.map(([d, desc, ref, debit, credit]) => `${d},${d},${desc},${ref},${debit},${credit},`)].join('\n')}\n`,
      )
      const imp = await run(
        'reconcile',
        'import',
        file,
        '--branch',
        'westlands',
        '--profile',
        'bank',
        '--json',
      )
      expect(imp.code, imp.stderr).toBe(0)
      const r = await run('reconcile', 'run', '--branch', 'westlands', '--grace', '3d', '--json')
      expect(r.code, r.stderr).toBe(8)
      const rep = r.json<Run>()
      expect(rep.discrepancies).toHaveLength(1)
      expect(rep.discrepancies[0]).toMatchObject({
        category: 'deposit_short',
        severity: 'high',
        pass: 'cash_reference',
        statementLine: { reference: cu.reference },
        batch: { id: cu.id, kind: 'cash_deposit', reference: cu.reference },
        expectedMinor: 515050,
        actualMinor: 505050,
        differenceMinor: -10000,
        difference: '-100.00',
      })
      expect(rep.summary.byCategory).toMatchObject({
        deposit_short: 1,
        deposit_over: 0,
        deposit_missing: 0,
      })
      expect((await run('settlements', 'show', cu.id, '--json')).json<Batch>().status).toBe(
        'awaiting_deposit',
      )
      for (const b of transfers)
        expect((await run('settlements', 'show', b.id, '--json')).json<Batch>().status).toBe(
          'completed',
        )
      // --fail-on takes the new categories
      const other = await run(
        'reconcile',
        'run',
        '--branch',
        'westlands',
        '--fail-on',
        'deposit_over,deposit_missing',
        '--dry-run',
      )
      expect(other.code, other.stderr).toBe(0)
      const csv = await run('reconcile', 'report', rep.runId, '--format', 'csv')
      expect(csv.code).toBe(0)
      expect(csv.stdout).toContain('deposit_short')
      // re-importing the statement adds nothing
      const again = await run(
        'reconcile',
        'import',
        file,
        '--branch',
        'westlands',
        '--profile',
        'bank',
        '--json',
      )
      expect(again.json()).toMatchObject({ imported: 0, alreadyPresent: rows.length })
    })

    it('no deposit after the grace is deposit_missing; the exact deposit (by reference, or by amount) deposits the cash-up', async () => {
      clock.set('2026-12-06T09:00:00.000Z')
      const eb = (await run('settlements', 'list', '--branch', 'entebbe', '--json')).json<
        Batch[]
      >()[0] as Batch
      const file = join(s.home, 'entebbe-1.csv')
      // a statement that covers the cut-off and the grace, without the deposit
      writeFileSync(
        file,
        'Date,Value Date,Description,Reference,Debit,Credit,Balance\n2026-11-30,2026-11-30,Ledger fee,CHG1,150,,\n2026-12-05,2026-12-05,Ledger fee,CHG2,150,,\n',
      )
      expect(
        (await run('reconcile', 'import', file, '--branch', 'entebbe', '--profile', 'bank')).code,
      ).toBe(0)
      // control: inside the grace it is not missing yet
      const early = await run(
        'reconcile',
        'run',
        '--branch',
        'entebbe',
        '--grace',
        '10d',
        '--dry-run',
        '--json',
      )
      expect(early.code, early.stderr).toBe(0)
      const r = await run('reconcile', 'run', '--branch', 'entebbe', '--grace', '2d', '--json')
      expect(r.code).toBe(8)
      expect(
        r
          .json<Run>()
          .discrepancies.map((d) => [
            d.category,
            d.severity,
            d.batch?.id,
            d.expectedMinor,
            d.actualMinor,
          ]),
      ).toEqual([['deposit_missing', 'high', eb.id, 75001, 0]])
      // the branch banks it, by amount and without the reference: cash_amount, unique
      const file2 = join(s.home, 'entebbe-2.csv')
      writeFileSync(
        file2,
        'Date,Value Date,Description,Reference,Debit,Credit,Balance\n2026-12-01,2026-12-01,Cash deposit,SLIP 7,,75001,\n',
      )
      expect(
        (await run('reconcile', 'import', file2, '--branch', 'entebbe', '--profile', 'bank')).code,
      ).toBe(0)
      const done = await run('reconcile', 'run', '--branch', 'entebbe', '--grace', '2d', '--json')
      expect(done.code, done.stderr).toBe(0)
      const after = (await run('settlements', 'show', eb.id, '--json')).json<
        Batch & { bankRef: string }
      >()
      expect(after).toMatchObject({ status: 'deposited', bankRef: 'SLIP 7' })
      for (const id of ['u1', 'u2'])
        expect((await run('payments', 'show', id, '--json')).json()).toMatchObject({
          settlementStatus: 'settled',
        })
      const audit = (await run('audit', 'list', '--action', 'settlement.deposit', '--json')).json<
        { target: string }[]
      >()
      expect(audit.map((a) => a.target)).toEqual([eb.id])
      expect(
        (await run('settlements', 'list', '--status', 'deposited', '--json'))
          .json<Batch[]>()
          .map((b) => b.id),
      ).toEqual([eb.id])
    })

    it('a pending cash transfer made before cash-ups is never sent: the next run cancels it (cash is banked) into a cash-up', async () => {
      clock.set('2026-11-30T09:00:00.000Z')
      await addPayments(s.db, [
        {
          id: 'lg1',
          branch: 'legacy',
          gateway: 'cash',
          amount: 10000n,
          currency: 'KES',
          completedAt: DAY1,
          fee: KES(150, 100n),
        },
        {
          id: 'lg2',
          branch: 'legacy',
          gateway: 'cash',
          amount: 20000n,
          currency: 'KES',
          completedAt: DAY1,
          fee: KES(150, 100n),
        },
      ])
      const legacyId = 'stl_01JLEGACY0000000000PENDING1'
      const ref = `SETTLEMENT-${legacyId.slice(-10)}`
      // the store as the previous version left it: a pending cash transfer (no kind column written)
      await plantLegacy(s.db, legacyId, 'pending', ['lg1', 'lg2'])
      // retry refuses it; a run of another gateway leaves it unsent
      const retry = await run('settlements', 'retry', legacyId)
      expect(retry.code).toBe(5)
      expect(retry.stderr).toContain('cash is banked by the branch')
      const r = await settle('legacy', '2026-11-30')
      const old = (await run('settlements', 'show', legacyId, '--json')).json<Batch>()
      expect(old).toMatchObject({
        kind: 'transfer',
        status: 'cancelled',
        failureReason: 'cash is banked',
        transfer: null,
      })
      expect(r.sent).toEqual([])
      expect(r.batches.map((b) => [b.kind, b.paymentCount, b.expectedMinor])).toEqual([
        ['cash_deposit', 2, 30000],
      ])
      expect(outbox().some((f) => f.startsWith(ref))).toBe(false)
      for (const id of ['lg1', 'lg2'])
        expect((await run('payments', 'show', id, '--json')).json()).toMatchObject({
          settlementStatus: 'batched',
          settlementBatchId: r.batches[0]?.id,
        })
      const cancel = (await run('audit', 'list', '--action', 'settlement.cancel', '--json')).json<
        { target: string; request: { reason?: string } }[]
      >()
      expect(cancel.find((a) => a.target === legacyId)?.request).toMatchObject({
        reason: 'cash is banked',
      })
      expect((await run('doctor')).code).toBe(0)
    })

    it('a person accepts the short deposit (reconcile confirm): the cash-up is deposited, its payments settled', async () => {
      const cu = day.batches.find((b) => b.kind === 'cash_deposit') as Batch
      const r = await run('reconcile', 'run', '--branch', 'westlands', '--grace', '3d', '--json')
      const line = r.json<Run>().discrepancies.find((d) => d.category === 'deposit_short')
        ?.statementLine?.id as string
      const ok1 = await run(
        'reconcile',
        'confirm',
        line,
        cu.id,
        '--reason',
        'till counted 100 short',
      )
      expect(ok1.code, ok1.stderr).toBe(0)
      expect((await run('settlements', 'show', cu.id, '--json')).json<Batch>().status).toBe(
        'deposited',
      )
      for (const id of ['c1', 'c2', 'c3'])
        expect((await run('payments', 'show', id, '--json')).json()).toMatchObject({
          settlementStatus: 'settled',
        })
      const again = await run(
        'reconcile',
        'run',
        '--branch',
        'westlands',
        '--grace',
        '3d',
        '--json',
      )
      expect(again.code, again.stderr).toBe(0)
      expect((await run('doctor')).code).toBe(0)
    })

    it('a bank transfer confirmation naming a cash-up changes nothing (nothing was sent)', async () => {
      const cu = (await run('settlements', 'list', '--branch', 'legacy', '--json'))
        .json<Batch[]>()
        .find((b) => b.kind === 'cash_deposit') as Batch
      const app = createApp(testRuntime({ env: s.env, clock }).rt, {})
      try {
        const store = await app.store()
        const branch = await requireBranch(store.db, 'legacy')
        const m = await matchSettlementCallback(app, store.db, branch, {
          id: 'trf_forged',
          idempotencyKey: cu.id,
          status: 'completed',
          amount: String(cu.netMinor),
          currency: 'KES',
        })
        expect(m).toMatchObject({ matched: true, status: 'ignored' })
        expect(m.note).toContain('is a cash-up')
      } finally {
        await app.close()
      }
      expect((await run('settlements', 'show', cu.id, '--json')).json<Batch>().status).toBe(
        'awaiting_deposit',
      )
    })

    it('a processing cash transfer is a doctor finding (exit 8) until it is cancelled', async () => {
      await addPayments(s.db, [
        {
          id: 'lg3',
          branch: 'legacy',
          gateway: 'cash',
          amount: 5000n,
          currency: 'KES',
          completedAt: '2026-11-30T08:00:00.000Z',
          fee: KES(0, 0n),
        },
      ])
      const id = 'stl_01JLEGACY000000000PROCESS1'
      await plantLegacy(s.db, id, 'processing', ['lg3'], '2026-11-30T23:00:00.000Z')
      const d = await run('doctor', '--json')
      expect(d.code).toBe(8)
      expect(d.stderr).toContain(
        `batch ${id} (SETTLEMENT-${id.slice(-10)}) is a cash transfer in processing: cash is banked by the branch, not paid from the collection account; stop the transfer at the bank (or do not upload its file), then \`dsh settlements cancel ${id}\``,
      )
      expect((await run('settlements', 'cancel', id, '--yes')).code).toBe(0)
      expect((await run('doctor')).code).toBe(0)
    })

    it('the database enforces one live cash-up per branch, currency and period, a cash payment in one live cash-up, and what a cash-up is', async () => {
      await withStore(s.db, async (st) => {
        const cu = await st.db
          .selectFrom('settlement_batches')
          .selectAll()
          .where('kind', '=', 'cash_deposit')
          .where('status', '=', 'awaiting_deposit')
          .executeTakeFirstOrThrow()
        const twin = { ...cu, id: 'stl_01JTWIN00000000000CASHTWIN1', reference: 'CASH-CASHTWIN1' }
        const e1 = await st.db
          .insertInto('settlement_batches')
          .values(twin)
          .execute()
          .catch((e) => e)
        expect(isUniqueViolation(e1)).toBe(true)
        // deposited is live too
        const e2 = await st.db
          .insertInto('settlement_batches')
          .values({ ...twin, status: 'deposited' })
          .execute()
          .catch((e) => e)
        expect(isUniqueViolation(e2)).toBe(true)
        // a cancelled twin holds nothing: allowed, but it cannot take a live member
        await st.db
          .insertInto('settlement_batches')
          .values({ ...twin, status: 'cancelled' })
          .execute()
        const item = await st.db
          .selectFrom('settlement_batch_items')
          .selectAll()
          .where('batch_id', '=', cu.id)
          .executeTakeFirstOrThrow()
        const e3 = await st.db
          .insertInto('settlement_batch_items')
          .values({ ...item, batch_id: twin.id })
          .execute()
          .catch((e) => e)
        expect(isUniqueViolation(e3)).toBe(true)
        // a cash-up has no fee, net = gross, gateway cash and a cash-up's status
        const other = {
          ...twin,
          id: 'stl_01JTWIN00000000000CASHTWIN2',
          reference: 'CASH-CASHTWIN2',
          status: 'cancelled',
        }
        for (const bad of [
          { fees_minor: 1n, net_minor: BigInt(cu.gross_minor) - 1n },
          { net_minor: BigInt(cu.gross_minor) + 1n },
          { gateway: 'stripe' },
          { status: 'pending' },
          { kind: 'cheque' },
        ]) {
          const e = await st.db
            .insertInto('settlement_batches')
            .values({ ...other, ...bad })
            .execute()
            .catch((x) => x)
          expect(
            e,
            JSON.stringify(bad, (_, v) => (typeof v === 'bigint' ? String(v) : v)),
          ).toBeInstanceOf(Error)
          expect(String((e as { code?: string }).code ?? '')).toMatch(
            /^(SQLITE_CONSTRAINT_CHECK|23514)$/,
          )
        }
        await st.db.deleteFrom('settlement_batches').where('id', '=', twin.id).execute()
      })
    })
  })
})

/**
 * Writes a cash transfer batch as the version before cash-ups made it (its `kind` left to the
 * migration's default), with its payments batched into it.
 */
async function plantLegacy(
  db: string,
  id: string,
  status: 'pending' | 'processing',
  paymentIds: string[],
  periodEnd = '2026-11-29T23:00:00.000Z',
): Promise<void> {
  await withStore(db, async (st) => {
    const a = await st.db
      .selectFrom('settlement_accounts as a')
      .innerJoin('branches as b', 'b.id', 'a.branch_id')
      .select(['a.id', 'a.branch_id', 'b.tenant_id'])
      .where('b.code', '=', 'legacy')
      .executeTakeFirstOrThrow()
    const ps = await st.db
      .selectFrom('payments')
      .select(['id', 'amount_minor', 'fee_minor'])
      .where('id', 'in', paymentIds)
      .execute()
    const gross = ps.reduce((x, p) => x + BigInt(p.amount_minor), 0n)
    const fees = ps.reduce((x, p) => x + BigInt(p.fee_minor ?? 0), 0n)
    const at = '2026-11-30T00:00:00.000Z'
    await st.db
      .insertInto('settlement_batches')
      .values({
        id,
        reference: `SETTLEMENT-${id.slice(-10)}`,
        tenant_id: a.tenant_id,
        branch_id: a.branch_id,
        account_id: a.id,
        gateway: 'cash',
        currency: 'KES',
        period_start: null,
        period_end: periodEnd,
        status,
        payment_count: ps.length,
        gross_minor: gross,
        transaction_fees_minor: fees,
        conversion_fees_minor: 0n,
        settlement_fee_minor: 0n,
        fees_minor: fees,
        net_minor: gross - fees,
        transfer_adapter: status === 'processing' ? 'file' : null,
        transfer_id: null,
        transfer_files: status === 'processing' ? '[]' : null,
        sent_at: status === 'processing' ? at : null,
        bank_ref: null,
        bank_amount_minor: null,
        failure_reason: null,
        retry_of: null,
        send_owner: null,
        send_until: null,
        created_at: at,
        updated_at: at,
        completed_at: null,
      } as never)
      .execute()
    for (const p of ps) {
      await st.db
        .insertInto('settlement_batch_items')
        .values({
          batch_id: id,
          payment_id: p.id,
          amount_minor: p.amount_minor,
          fee_minor: p.fee_minor ?? 0n,
          conversion_fee_minor: 0n,
          released_at: null,
        })
        .execute()
      await st.db
        .updateTable('payments')
        .set({ settlement_status: 'batched', settlement_batch_id: id })
        .where('id', '=', p.id)
        .execute()
    }
  })
}
