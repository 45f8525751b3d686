import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { validateOutbox } from '../helpers/pain001.js'
import { runInProcess } from '../helpers/run-cli.js'
import {
  addPayments,
  feeOf,
  fixedClock,
  ok,
  type PaymentSpec,
  ratePart,
  seedSettlement,
  withStore,
} from './helpers.js'

interface Batch {
  id: string
  reference: string
  branch: string
  gateway: string
  currency: string
  periodStart: string
  periodEnd: string
  status: string
  paymentCount: number
  grossMinor: number
  gross: string
  transactionFeesMinor: number
  conversionFeesMinor: number
  settlementFeeMinor: number
  feesMinor: number
  fees: string
  netMinor: number
  net: string
  transfer: { adapter: string; transferId: string | null; files: string[]; sentAt: string } | null
  createdAt: string
}
interface Report {
  date: string
  cutoffAt: string
  dryRun: boolean
  nothingToDo: boolean
  batches: Batch[]
  sent: string[]
  files: string[]
  voidedFiles: string[]
  carriedOver: Record<string, unknown>[]
}

const KES = (rateBp: number, flat: bigint, convBp = 0) => ({ rateBp, flat, convBp })

const PAYMENTS: PaymentSpec[] = [
  // mpesa-kcb KES (the tenant's configuration): two inside the period and the holding period, one too young, one without a fee
  {
    id: 'p_c1',
    branch: 'westlands',
    gateway: 'mpesa-kcb',
    amount: 100000n,
    currency: 'KES',
    completedAt: '2026-11-28T10:00:00.000Z',
    fee: KES(150, 100n),
  },
  {
    id: 'p_c2',
    branch: 'westlands',
    gateway: 'mpesa-kcb',
    amount: 25055n,
    currency: 'KES',
    completedAt: '2026-11-29T11:00:00.000Z',
    fee: KES(150, 100n),
  },
  {
    id: 'p_c3',
    branch: 'westlands',
    gateway: 'mpesa-kcb',
    amount: 50000n,
    currency: 'KES',
    completedAt: '2026-11-29T13:00:00.000Z',
    fee: KES(150, 100n),
  },
  {
    id: 'p_c4',
    branch: 'westlands',
    gateway: 'mpesa-kcb',
    amount: 12345n,
    currency: 'KES',
    completedAt: '2026-11-29T11:30:00.000Z',
    fee: null,
  },
  {
    id: 'p_s1',
    branch: 'westlands',
    gateway: 'stripe',
    amount: 200000n,
    currency: 'KES',
    completedAt: '2026-11-27T09:00:00.000Z',
    fee: KES(290, 3000n),
  },
  // a currency with no settlement account: reported, not an error
  {
    id: 'p_s2',
    branch: 'westlands',
    gateway: 'stripe',
    amount: 1000n,
    currency: 'USD',
    completedAt: '2026-11-28T09:00:00.000Z',
    fee: KES(290, 0n, 350),
  },
  // refunded, failed: never settled
  {
    id: 'p_m1',
    branch: 'westlands',
    gateway: 'mpesa',
    amount: 10000n,
    currency: 'KES',
    completedAt: '2026-11-28T09:00:00.000Z',
    refunded: 10000n,
    fee: KES(0, 0n),
  },
  {
    id: 'p_m2',
    branch: 'westlands',
    gateway: 'mpesa',
    amount: 30000n,
    currency: 'KES',
    completedAt: '2026-11-28T09:00:00.000Z',
    status: 'failed',
    fee: null,
  },
  {
    id: 'p_m3',
    branch: 'westlands',
    gateway: 'mpesa',
    amount: 40000n,
    currency: 'KES',
    completedAt: '2026-11-28T09:00:00.000Z',
    fee: KES(0, 0n),
  },
  // UGX mpesa-kcb taken by a KES branch: conversion fee, no flat (the flat fee is in KES), 0 decimals
  {
    id: 'p_u1',
    branch: 'westlands',
    gateway: 'mpesa-kcb',
    amount: 50000n,
    currency: 'UGX',
    completedAt: '2026-11-28T09:00:00.000Z',
    fee: KES(150, 0n, 200),
  },
  {
    id: 'p_u2',
    branch: 'westlands',
    gateway: 'mpesa-kcb',
    amount: 30001n,
    currency: 'UGX',
    completedAt: '2026-11-29T05:00:00.000Z',
    fee: KES(150, 0n, 200),
  },
]

/** The batch figures computed here from the specs (the configuration's fee for the unrecorded one). */
function expected(ids: string[], settlementFee: bigint) {
  const ps = PAYMENTS.filter((p) => ids.includes(p.id))
  const fee = (p: PaymentSpec) => feeOf(p) ?? ratePart(p.amount, 150) + 100n
  const conv = (p: PaymentSpec) => (p.fee ? ratePart(p.amount, p.fee.convBp) : 0n)
  const gross = ps.reduce((s, p) => s + p.amount, 0n)
  const fees = ps.reduce((s, p) => s + fee(p), 0n)
  const conversion = ps.reduce((s, p) => s + conv(p), 0n)
  return {
    paymentCount: ps.length,
    grossMinor: Number(gross),
    transactionFeesMinor: Number(fees - conversion),
    conversionFeesMinor: Number(conversion),
    settlementFeeMinor: Number(settlementFee),
    feesMinor: Number(fees + settlementFee),
    netMinor: Number(gross - fees - settlementFee),
  }
}

describe.each(DIALECTS)('dsh settle on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('runs', () => {
    const s = useStoreEnv(name)
    const clock = fixedClock('2026-11-30T12:00:00.000Z')
    const run = (...args: string[]) => runInProcess(args, { env: s.env, clock })

    beforeAll(async () => {
      await seedSettlement(s.home, s.env)
      await addPayments(s.db, PAYMENTS)
    })

    it('bad input: exit 2, 3, 4 and 7 with the right message', async () => {
      expect((await run('settle')).code).toBe(2)
      expect((await run('settle', '--branch', 'westlands', '--all')).code).toBe(2)
      const unknown = await run('settle', '--branch', 'nowhere')
      expect(unknown.code).toBe(4)
      expect(unknown.stderr).toContain('no branch "nowhere"')
      const none = await run('settle', '--branch', 'westlands')
      expect(none.code).toBe(7)
      expect(none.stderr).toContain('dsh branch settlement-account westlands')
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
        '--swift',
        'KCBLKENX',
        '--at',
        '02:00',
        '--holding-hours',
        '24',
      ])
      await ok(s.env, [
        'branch',
        'settlement-account',
        'westlands',
        '--currency',
        'UGX',
        '--account-name',
        'Westlands UG',
        '--account-number',
        'UG-778899',
        '--bank-name',
        'Stanbic',
        '--bank-code',
        'SBIC',
        '--min-amount',
        '100000',
        '--holding-hours',
        '24',
      ])
      const badDate = await run('settle', '--branch', 'westlands', '--date', '2025-13-01')
      expect(badDate.code).toBe(3)
      expect(badDate.stderr).toContain('"2025-13-01" is not a calendar date')
      const badGw = await run('settle', '--branch', 'westlands', '--gateway', 'paypal')
      expect(badGw.code).toBe(3)
      expect(badGw.stderr).toContain('gateway "paypal"')
    })

    it('a file transfer with no collection account exits 7 naming the command and creates no batch', async () => {
      const r = await run('settle', '--branch', 'westlands', '--date', '2026-11-30')
      expect(r.code).toBe(7)
      expect(r.stderr).toContain('dsh tenant collection-account acme --currency KES')
      const n = await withStore(s.db, (st) =>
        st.db
          .selectFrom('settlement_batches')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow(),
      )
      expect(Number(n.n)).toBe(0)
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
        '--swift',
        'KCBLKENX',
      ])
      await ok(s.env, [
        'tenant',
        'collection-account',
        'acme',
        '--currency',
        'UGX',
        '--account-name',
        'Acme UG',
        '--account-number',
        '9988776655',
        '--bank-name',
        'Stanbic',
        '--bank-code',
        'SBIC',
      ])
      const shown = await ok(s.env, ['tenant', 'collection-account', 'acme', '--json'])
      expect(shown.json<{ currency: string }[]>().map((a) => a.currency)).toEqual(['KES', 'UGX'])
    })

    it('--dry-run prints the run and writes nothing', async () => {
      const count = () =>
        withStore(s.db, async (st) => ({
          batches: (await st.db.selectFrom('settlement_batches').selectAll().execute()).length,
          runs: (await st.db.selectFrom('settlement_runs').selectAll().execute()).length,
          unfee: (
            await st.db.selectFrom('payments').selectAll().where('fee_minor', 'is', null).execute()
          ).length,
          audit: (await st.db.selectFrom('audit_log').selectAll().execute()).length,
        }))
      const before = await count()
      const r = await run(
        'settle',
        '--branch',
        'westlands',
        '--date',
        '2026-11-30',
        '--dry-run',
        '--json',
      )
      expect(r.code, r.stderr).toBe(0)
      const rep = r.json<Report>()
      expect(rep.dryRun).toBe(true)
      expect(rep.batches.map((b) => [b.gateway, b.currency, b.netMinor])).toEqual([
        ['mpesa', 'KES', 40000],
        ['mpesa-kcb', 'KES', expected(['p_c1', 'p_c2', 'p_c4'], 1000n).netMinor],
        ['stripe', 'KES', expected(['p_s1'], 2500n).netMinor],
      ])
      expect(rep.sent).toEqual([])
      expect(await count()).toEqual(before)
    })

    let report: Report
    it('batches per gateway and currency, fees and net to the unit, holding period and carry-over', async () => {
      const r = await run('settle', '--branch', 'westlands', '--date', '2026-11-30', '--json')
      expect(r.code, r.stderr).toBe(0)
      report = r.json<Report>()
      expect(Object.keys(report)).toEqual([
        'date',
        'cutoffAt',
        'dryRun',
        'nothingToDo',
        'batches',
        'sent',
        'files',
        'voidedFiles',
        'carriedOver',
      ])
      expect(report).toMatchObject({
        date: '2026-11-30',
        cutoffAt: '2026-11-29T23:00:00.000Z',
        dryRun: false,
        nothingToDo: false,
      })
      const period = {
        periodStart: '2026-11-28T23:00:00.000Z',
        periodEnd: '2026-11-29T23:00:00.000Z',
      }
      const [mpesa, kcb, stripe] = report.batches
      expect(kcb).toMatchObject({
        gateway: 'mpesa-kcb',
        currency: 'KES',
        status: 'processing',
        ...period,
        ...expected(['p_c1', 'p_c2', 'p_c4'], 1000n),
      })
      expect(mpesa).toMatchObject({ gateway: 'mpesa', currency: 'KES', ...expected(['p_m3'], 0n) })
      expect(stripe).toMatchObject({
        gateway: 'stripe',
        currency: 'KES',
        ...expected(['p_s1'], 2500n),
      })
      // to the unit, written out: 1000.00 + 250.55 + 123.45 − (16.00 + 4.76 + 2.85) − 10.00
      expect(kcb).toMatchObject({ gross: '1374.00', fees: '33.61', net: '1340.39' })
      for (const b of report.batches) {
        expect(b.id).toMatch(/^stl_[0-9A-Z]{26}$/)
        expect(b.reference).toBe(`SETTLEMENT-${b.id.slice(-10)}`)
        expect(Object.keys(b)).toEqual([
          'id',
          'kind',
          'reference',
          'depositReference',
          'expectedMinor',
          'expected',
          'branch',
          'gateway',
          'currency',
          'periodStart',
          'periodEnd',
          'status',
          'paymentCount',
          'grossMinor',
          'gross',
          'transactionFeesMinor',
          'transactionFees',
          'conversionFeesMinor',
          'conversionFees',
          'settlementFeeMinor',
          'settlementFee',
          'feesMinor',
          'fees',
          'netMinor',
          'net',
          'transfer',
          'bankRef',
          'failureReason',
          'createdAt',
          'updatedAt',
          'completedAt',
        ])
      }
      expect(report.sent).toEqual(report.batches.map((b) => b.id))
      const u = expected(['p_u1', 'p_u2'], 0n)
      expect(report.carriedOver).toEqual([
        {
          branch: 'westlands',
          gateway: 'mpesa-kcb',
          currency: 'UGX',
          reason: 'below_minimum',
          paymentCount: 2,
          grossMinor: 80001,
          gross: '80001',
          netMinor: u.netMinor,
          net: String(u.netMinor),
          minAmountMinor: 100000,
          minAmount: '100000',
        },
        {
          branch: 'westlands',
          gateway: 'stripe',
          currency: 'USD',
          reason: 'no_settlement_account',
          paymentCount: 1,
          grossMinor: 1000,
          gross: '10.00',
          netMinor: 936,
          net: '9.36',
          minAmountMinor: null,
          minAmount: null,
        },
      ])
      // the fee that was not recorded is now recorded on the payment
      const c4 = (await run('payments', 'show', 'p_c4', '--json')).json<{
        feeMinor: number
        settlementStatus: string
        settlementBatchId: string
      }>()
      expect(c4).toMatchObject({
        feeMinor: 285,
        settlementStatus: 'batched',
        settlementBatchId: kcb?.id,
      })
      const c3 = (await run('payments', 'show', 'p_c3', '--json')).json<{
        settlementStatus: string
        settlementBatchId: string | null
      }>()
      expect(c3).toMatchObject({ settlementStatus: 'unsettled', settlementBatchId: null })
    })

    it('writes the CSV and the pain.001.001.03 XML (0600 in a 0700 outbox)', async () => {
      const kcb = report.batches[1] as Batch
      const dir = join(s.home, 'outbox')
      expect(statSync(dir).mode & 0o777).toBe(0o700)
      expect(kcb.transfer?.files).toEqual([
        join(dir, `${kcb.reference}.csv`),
        join(dir, `${kcb.reference}.xml`),
      ])
      for (const f of kcb.transfer?.files ?? []) expect(statSync(f).mode & 0o777).toBe(0o600)
      expect(readFileSync(join(dir, `${kcb.reference}.csv`), 'utf8')).toBe(
        'reference,value_date,debtor_account,beneficiary_name,beneficiary_account,bank_code,swift,amount,currency,narrative\n' +
          `${kcb.reference},2026-11-30,0100200300,Westlands Ltd,0011223344,01,KCBLKENX,1340.39,KES,${kcb.reference} westlands mpesa-kcb settlement\n`,
      )
      // The run reports every file it wrote, and each pain.001 validates against the ISO schema.
      expect(report.files).toEqual(report.batches.flatMap((b) => b.transfer?.files ?? []))
      expect(report.files).toContain(join(dir, `${kcb.reference}.xml`))
      expect(validateOutbox(s.home)).toBe(report.batches.length)
      const xml = readFileSync(join(dir, `${kcb.reference}.xml`), 'utf8')
      expect(xml).toContain('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"')
      for (const part of [
        // The batch's creation (12:00 UTC) with the tenant's offset (Africa/Nairobi).
        '<CreDtTm>2026-11-30T15:00:00+03:00</CreDtTm>',
        `<MsgId>${kcb.reference}</MsgId>`,
        '<NbOfTxs>1</NbOfTxs>',
        '<CtrlSum>1340.39</CtrlSum>',
        '<PmtMtd>TRF</PmtMtd>',
        '<ReqdExctnDt>2026-11-30</ReqdExctnDt>',
        '<Nm>Acme Collections</Nm>',
        '<Id>0100200300</Id>',
        '<Ccy>KES</Ccy>',
        `<EndToEndId>${kcb.reference}</EndToEndId>`,
        '<InstdAmt Ccy="KES">1340.39</InstdAmt>',
        '<BIC>KCBLKENX</BIC>',
        '<Nm>Westlands Ltd</Nm>',
        '<Id>0011223344</Id>',
        `<Ustrd>${kcb.reference} westlands mpesa-kcb settlement</Ustrd>`,
      ])
        expect(xml).toContain(part)
    })

    it('running it again does nothing; a lower minimum settles the carried-over currency', async () => {
      const again = await run('settle', '--branch', 'westlands', '--date', '2026-11-30', '--json')
      expect(again.code, again.stderr).toBe(0)
      expect(again.json<Report>()).toMatchObject({ nothingToDo: true, batches: [], sent: [] })
      await ok(s.env, [
        'branch',
        'settlement-account',
        'westlands',
        '--currency',
        'UGX',
        '--min-amount',
        '500',
      ])
      const ugx = (
        await run('settle', '--branch', 'westlands', '--date', '2026-11-30', '--json')
      ).json<Report>()
      expect(ugx.batches).toHaveLength(1)
      expect(ugx.batches[0]).toMatchObject({
        gateway: 'mpesa-kcb',
        currency: 'UGX',
        gross: '80001',
        ...expected(['p_u1', 'p_u2'], 0n),
      })
    })

    it('the next day carries over what the holding period kept back', async () => {
      clock.set('2026-12-01T12:00:00.000Z')
      const r = (
        await run('settle', '--branch', 'westlands', '--date', '2026-12-01', '--json')
      ).json<Report>()
      expect(r.batches.map((b) => [b.gateway, b.currency, b.paymentCount, b.periodStart])).toEqual([
        ['mpesa-kcb', 'KES', 1, '2026-11-29T23:00:00.000Z'],
      ])
      expect(r.batches[0]).toMatchObject(expected(['p_c3'], 1000n))
      const doctor = await run('doctor', '--json')
      expect(doctor.code, doctor.stdout).toBe(0)
    })

    it('lifecycle: complete, fail (releases), retry, cancel, export with the fee spread exactly', async () => {
      const [mpesa, kcb, stripe] = report.batches as [Batch, Batch, Batch]
      const done = await run('settlements', 'complete', stripe.id, '--bank-ref', 'FT-001', '--json')
      expect(done.code, done.stderr).toBe(0)
      expect(done.json<Batch & { bankRef: string }>()).toMatchObject({
        status: 'completed',
        bankRef: 'FT-001',
      })
      expect(
        (await run('payments', 'show', 'p_s1', '--json')).json<{ settlementStatus: string }>()
          .settlementStatus,
      ).toBe('settled')

      const failed = await run(
        'settlements',
        'fail',
        mpesa.id,
        '--reason',
        'account closed',
        '--json',
      )
      expect(failed.json<Batch & { failureReason: string }>()).toMatchObject({
        status: 'failed',
        failureReason: 'account closed',
      })
      expect((await run('payments', 'show', 'p_m3', '--json')).json()).toMatchObject({
        settlementStatus: 'unsettled',
        settlementBatchId: null,
      })

      const retried = await run('settlements', 'retry', mpesa.id, '--json')
      expect(retried.code, retried.stderr).toBe(0)
      const nb = retried.json<Batch>()
      expect(nb).toMatchObject({
        status: 'processing',
        gateway: 'mpesa',
        periodEnd: mpesa.periodEnd,
        paymentCount: 1,
        netMinor: 40000,
      })
      expect(nb.id).not.toBe(mpesa.id)

      const noYes = await run('settlements', 'cancel', nb.id)
      expect(noYes.code).toBe(2)
      expect(noYes.stderr).toContain('--yes')
      const cancelled = await run('settlements', 'cancel', nb.id, '--yes', '--json')
      expect(cancelled.json<Batch>().status).toBe('cancelled')
      const late = await run('settlements', 'complete', nb.id, '--bank-ref', 'X')
      expect(late.code).toBe(5)
      expect(late.stderr).toContain('is cancelled')

      const csv = await run('settlements', 'export', kcb.id)
      const lines = csv.stdout.trim().split('\n')
      expect(lines[0]).toBe(
        'payment_id,completed_at,receipt_number,order_id,currency,amount,fee,settlement_fee_share,net',
      )
      expect(lines).toHaveLength(4)
      const json = (await run('settlements', 'export', kcb.id, '--format', 'json')).json<
        { netMinor: number; settlementFeeShareMinor: number; net: string; currency: string }[]
      >()
      expect(json.reduce((a, r) => a + r.netMinor, 0)).toBe(kcb.netMinor)
      expect(json.reduce((a, r) => a + r.settlementFeeShareMinor, 0)).toBe(1000)
      // 10.00 spread by amount over 1000.00, 250.55 and 123.45 (largest remainder)
      expect(json.map((r) => r.settlementFeeShareMinor)).toEqual([728, 182, 90])
      const csvNet = lines.slice(1).map((l) => l.split(',')[8])
      expect(csvNet).toEqual(json.map((r) => r.net))

      const list = (await run('settlements', 'list', '--branch', 'westlands', '--json')).json<
        Batch[]
      >()
      expect(list.map((b) => b.createdAt)).toEqual(
        [...list.map((b) => b.createdAt)].sort().reverse(),
      )
      const show = (await run('settlements', 'show', mpesa.id, '--json')).json<{
        timeline: { action: string }[]
        payments: unknown[]
      }>()
      expect(show.timeline.map((t) => t.action)).toEqual([
        'settlement.create',
        'settlement.send',
        'settlement.fail',
      ])
      expect(show.payments).toHaveLength(1)
      const doctor = await run('doctor', '--json')
      expect(doctor.code, doctor.stdout).toBe(0)
      const auditActions = (await run('audit', 'list', '--action', 'settlement.*', '--json'))
        .json<{ action: string }[]>()
        .map((a) => a.action)
      for (const a of [
        'settlement.create',
        'settlement.send',
        'settlement.complete',
        'settlement.fail',
        'settlement.retry',
        'settlement.cancel',
      ])
        expect(auditActions).toContain(a)
    })
  })
})
