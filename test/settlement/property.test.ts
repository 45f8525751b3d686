import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess } from '../helpers/run-cli.js'
import {
  addPayments,
  feeOf,
  fixedClock,
  ok,
  type PaymentSpec,
  ratePart,
  seedSettlement,
} from './helpers.js'

interface Batch {
  gateway: string
  currency: string
  paymentCount: number
  grossMinor: number
  transactionFeesMinor: number
  conversionFeesMinor: number
  settlementFeeMinor: number
  feesMinor: number
  netMinor: number
}
interface Carry {
  gateway: string
  currency: string
  reason: string
  paymentCount: number
  grossMinor: number
  netMinor: number
}

const NOW = '2026-11-30T12:00:00.000Z'
// --date 2026-11-30 at 02:00 Nairobi
const CUTOFF = '2026-11-29T23:00:00.000Z'

const paymentArb = fc.record({
  gateway: fc.constantFrom('cash', 'mpesa', 'mpesa-kcb', 'stripe'),
  currency: fc.constantFrom('KES', 'KES', 'UGX', 'USD'),
  amount: fc.bigInt({ min: 1n, max: 10_000_000n }),
  // minutes before NOW: from 4 days back to just now (some after the cut-off, some in the hold)
  ageMin: fc.integer({ min: 0, max: 4 * 24 * 60 }),
  status: fc.constantFrom('succeeded', 'succeeded', 'succeeded', 'failed'),
  refunded: fc.boolean().map((b) => (b ? 'yes' : 'no')),
  fee: fc.option(
    fc.record({
      rateBp: fc.integer({ min: 0, max: 500 }),
      flat: fc.bigInt({ min: 0n, max: 500n }),
      convBp: fc.integer({ min: 0, max: 400 }),
    }),
    { freq: 8 },
  ),
})

const caseArb = fc.record({
  payments: fc.array(paymentArb, { minLength: 0, maxLength: 25 }),
  holdingHours: fc.integer({ min: 0, max: 48 }),
  minKes: fc.integer({ min: 0, max: 50_000 }),
  minUgx: fc.integer({ min: 0, max: 50_000 }),
})

describe.each(DIALECTS)('settlement properties on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('random payments, fees and currencies', () => {
    const s = useStoreEnv(name)
    beforeAll(async () => {
      await seedSettlement(s.home, s.env)
      for (const c of ['KES', 'UGX'])
        await ok(s.env, [
          'tenant',
          'collection-account',
          'acme',
          '--currency',
          c,
          '--account-name',
          'Acme',
          '--account-number',
          '0100200300',
          '--bank-name',
          'KCB',
        ])
    })

    let n = 0
    it('batches equal an independent computation; Σ eligible = Σ batched + Σ carried; a rerun does nothing; doctor agrees', async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          const branch = `pb${++n}`
          await ok(s.env, [
            'branch',
            'add',
            branch,
            '--tenant',
            'acme',
            '--name',
            branch,
            '--currency',
            'KES',
          ])
          for (const [cur, min] of [
            ['KES', c.minKes],
            ['UGX', c.minUgx],
          ] as const)
            await ok(s.env, [
              'branch',
              'settlement-account',
              branch,
              '--currency',
              cur,
              '--account-name',
              'B',
              '--account-number',
              '12345678',
              '--bank-name',
              'KCB',
              '--transfer',
              'manual',
              '--holding-hours',
              String(c.holdingHours),
              '--min-amount',
              cur === 'KES'
                ? `${Math.floor(min / 100)}.${String(min % 100).padStart(2, '0')}`
                : String(min),
            ])
          const specs: PaymentSpec[] = c.payments.map((p, i) => ({
            id: `p_${branch}_${i}`,
            branch,
            gateway: p.gateway,
            amount: p.amount,
            currency: p.gateway === 'mpesa' ? 'KES' : p.currency,
            completedAt: new Date(Date.parse(NOW) - p.ageMin * 60_000).toISOString(),
            status: p.status,
            refunded: p.refunded === 'yes' ? p.amount : 0n,
            fee: p.fee,
          }))
          await addPayments(s.db, specs)
          const clock = fixedClock(NOW)
          const r = await runInProcess(
            ['settle', '--branch', branch, '--date', '2026-11-30', '--json'],
            { env: s.env, clock },
          )
          expect(r.code, r.stderr).toBe(0)
          const rep = r.json<{ batches: Batch[]; carriedOver: Carry[]; nothingToDo: boolean }>()

          // the independent computation
          const holdLimit = new Date(Date.parse(NOW) - c.holdingHours * 3_600_000).toISOString()
          const upTo = holdLimit < CUTOFF ? holdLimit : CUTOFF
          const eligible = specs.filter(
            (p) => p.status === 'succeeded' && (p.refunded ?? 0n) === 0n && p.completedAt <= upTo,
          )
          // the mpesa-kcb configuration (tenant): 1.5 % + KES 1.00 flat, conversion 2 %, settlement
          // fee KES 10; cash is banked in full (a cash-up: no fee, net = gross)
          const fee = (p: PaymentSpec) =>
            p.gateway === 'cash'
              ? 0n
              : (feeOf(p) ??
                (p.gateway === 'mpesa-kcb'
                  ? ratePart(p.amount, 150) +
                    (p.currency === 'KES' ? 100n : 0n) +
                    (p.currency !== 'KES' ? ratePart(p.amount, 200) : 0n)
                  : 0n))
          const conv = (p: PaymentSpec) =>
            p.gateway === 'cash'
              ? 0n
              : p.fee
                ? ratePart(p.amount, p.fee.convBp)
                : p.gateway === 'mpesa-kcb' && p.currency !== 'KES'
                  ? ratePart(p.amount, 200)
                  : 0n
          const groups = new Map<string, PaymentSpec[]>()
          for (const p of eligible)
            groups.set(`${p.gateway}|${p.currency}`, [
              ...(groups.get(`${p.gateway}|${p.currency}`) ?? []),
              p,
            ])
          const wantBatches: Batch[] = []
          const wantCarry: Carry[] = []
          for (const [key, ps] of [...groups].sort(([a], [b]) => (a < b ? -1 : 1))) {
            const [gateway = '', currency = ''] = key.split('|')
            const gross = ps.reduce((a, p) => a + p.amount, 0n)
            const fees = ps.reduce((a, p) => a + fee(p), 0n)
            const conversion = ps.reduce((a, p) => a + conv(p), 0n)
            const stl = gateway === 'mpesa-kcb' && currency === 'KES' ? 1000n : 0n
            const net = gross - fees - stl
            if (currency === 'USD') {
              wantCarry.push({
                gateway,
                currency,
                reason: 'no_settlement_account',
                paymentCount: ps.length,
                grossMinor: Number(gross),
                netMinor: Number(gross - fees),
              })
              continue
            }
            const min = BigInt(currency === 'KES' ? c.minKes : c.minUgx)
            if (net < min || net <= 0n)
              wantCarry.push({
                gateway,
                currency,
                reason: 'below_minimum',
                paymentCount: ps.length,
                grossMinor: Number(gross),
                netMinor: Number(net),
              })
            else
              wantBatches.push({
                gateway,
                currency,
                paymentCount: ps.length,
                grossMinor: Number(gross),
                transactionFeesMinor: Number(fees - conversion),
                conversionFeesMinor: Number(conversion),
                settlementFeeMinor: Number(stl),
                feesMinor: Number(fees + stl),
                netMinor: Number(net),
              })
          }
          const order = (x: { currency: string; gateway: string; reason?: string }) =>
            `${x.reason === 'no_settlement_account' ? 'z' : 'a'}|${x.currency}|${x.gateway}`
          const pick = (b: Batch) => ({
            gateway: b.gateway,
            currency: b.currency,
            paymentCount: b.paymentCount,
            grossMinor: b.grossMinor,
            transactionFeesMinor: b.transactionFeesMinor,
            conversionFeesMinor: b.conversionFeesMinor,
            settlementFeeMinor: b.settlementFeeMinor,
            feesMinor: b.feesMinor,
            netMinor: b.netMinor,
          })
          const sortBy = <T extends { currency: string; gateway: string }>(xs: T[]) =>
            [...xs].sort((a, b) => (order(a) < order(b) ? -1 : 1))
          expect(sortBy(rep.batches.map(pick))).toEqual(sortBy(wantBatches))
          expect(
            sortBy(
              rep.carriedOver.map((x) => ({
                gateway: x.gateway,
                currency: x.currency,
                reason: x.reason,
                paymentCount: x.paymentCount,
                grossMinor: x.grossMinor,
                netMinor: x.netMinor,
              })),
            ),
          ).toEqual(sortBy(wantCarry))
          // conservation: every eligible payment is batched once or carried over
          const batched = rep.batches.reduce((a, b) => a + b.paymentCount, 0)
          const carried = rep.carriedOver.reduce((a, x) => a + x.paymentCount, 0)
          expect(batched + carried).toBe(eligible.length)
          // re-running the date does nothing
          const again = await runInProcess(
            ['settle', '--branch', branch, '--date', '2026-11-30', '--json'],
            { env: s.env, clock },
          )
          expect(again.json<{ nothingToDo: boolean; batches: unknown[] }>()).toMatchObject({
            nothingToDo: true,
            batches: [],
          })
          const doctor = await runInProcess(['doctor', '--json'], { env: s.env })
          expect(doctor.code, doctor.stdout).toBe(0)
        }),
        { numRuns: name === 'sqlite' ? 25 : 10, seed: 20261130 },
      )
    }, 120_000)

    it('control: doctor finds a batch whose figures were changed behind its back (exit 8)', async () => {
      const { withStore } = await import('./helpers.js')
      const changed = await withStore(s.db, async (st) => {
        const b = await st.db
          .selectFrom('settlement_batches')
          .selectAll()
          .where('status', '=', 'processing')
          .executeTakeFirst()
        if (!b) return undefined
        await st.db
          .updateTable('settlement_batches')
          .set({ gross_minor: BigInt(b.gross_minor) + 1n })
          .where('id', '=', b.id)
          .execute()
        return b
      })
      expect(changed).toBeDefined()
      const r = await runInProcess(['doctor', '--json'], { env: s.env })
      expect(r.code).toBe(8)
      expect(r.stderr).toContain(`batch ${changed?.id}`)
      expect(r.json<{ ok: boolean; violations: string[] }>().ok).toBe(false)
      await withStore(s.db, (st) =>
        st.db
          .updateTable('settlement_batches')
          .set({ gross_minor: changed?.gross_minor ?? 0 })
          .where('id', '=', changed?.id ?? '')
          .execute(),
      )
      // a payment moved back to unsettled while its batch still lists it
      await withStore(s.db, async (st) => {
        const item = await st.db
          .selectFrom('settlement_batch_items')
          .selectAll()
          .where('released_at', 'is', null)
          .executeTakeFirstOrThrow()
        await st.db
          .updateTable('payments')
          .set({ settlement_status: 'unsettled', settlement_batch_id: null })
          .where('id', '=', item.payment_id)
          .execute()
        const d = await runInProcess(['doctor'], { env: s.env })
        expect(d.code).toBe(8)
        expect(d.stderr).toContain(item.payment_id)
        await st.db
          .updateTable('payments')
          .set({ settlement_status: 'batched', settlement_batch_id: item.batch_id })
          .where('id', '=', item.payment_id)
          .execute()
      })
      expect((await runInProcess(['doctor'], { env: s.env })).code).toBe(0)
    })
  })
})
