import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { inboxInsert, insertInboxBatch } from '../../src/callbacks/inbox.js'
import { replayCallback } from '../../src/callbacks/process.js'
import { requireBranch } from '../../src/tenants/branches.js'
import { DIALECTS } from '../helpers/dialects.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'

/**
 * Fees in the right currency (issue 22, item 5): the newcomer's KES card payment at an RWF branch
 * pays the flat fee (configured in RWF) converted with `dsh rates`; without a rate `dsh pay`
 * refuses before any gateway call, and a C2B payment that arrives anyway records the rate part
 * and is reported by `dsh doctor` and `dsh health` (`fee_without_rate`).
 */

interface Payment {
  id: string
  status: string
  feeMinor: number | null
  fee: string | null
  feeFlatConversion: {
    fromMinor: number
    from: string
    fromCurrency: string
    rate: string | null
    asOf: string | null
    flatMinor: number | null
    flat: string | null
  } | null
}

describe.each(DIALECTS)('fees in the right currency ($name)', ({ name, enabled }) => {
  describe.runIf(enabled)('store', () => {
    const env = usePaymentsEnv(name)
    const run = async (...args: string[]) => env.run(...args)
    const ok = async (...args: string[]) => {
      const r = await run(...args)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      return r
    }
    const payKes = () =>
      run(
        'pay',
        '--branch',
        'kigali',
        '--amount',
        '50',
        '--currency',
        'KES',
        '--method',
        'card',
        '--payment-method',
        'pm_card_visa',
        '--wait',
        '--timeout',
        '10s',
        '--json',
      )
    const today = () => new Date(Date.now() + 2 * 3600_000).toISOString().slice(0, 10)

    beforeAll(async () => {
      const put = (n: string, v: string) => {
        const p = join(env.home, n)
        writeFileSync(p, v)
        return p
      }
      await ok(
        'branch',
        'add',
        'kigali',
        '--tenant',
        'acme',
        '--name',
        'Kigali',
        '--currency',
        'RWF',
        '--timezone',
        'Africa/Kigali',
      )
      await ok(
        'gateway',
        'setup',
        'stripe',
        '--branch',
        'kigali',
        '--secret-key-file',
        put('sk2', 'sk_test_sandbox123'),
        '--webhook-secret-file',
        put('wh2', 'whsec_sandbox123'),
        '--base-url',
        env.sandbox.url,
        '--transaction-fee-rate',
        '2.9',
        '--transaction-fee-flat',
        '100',
        '--conversion-fee-rate',
        '1',
      )
      await ok(
        'gateway',
        'setup',
        'mpesa',
        '--branch',
        'kigali',
        '--account-type',
        'paybill',
        '--shortcode',
        '600111',
        '--paybill-number',
        '600111',
        '--passkey-file',
        join(env.home, 'pk'),
        '--consumer-key-file',
        join(env.home, 'ck'),
        '--consumer-secret-file',
        join(env.home, 'cs'),
        '--base-url',
        env.sandbox.url,
        '--transaction-fee-flat',
        '100',
      )
    }, 60_000)

    it('without a RWF→KES rate, dsh pay refuses before any gateway call (exit 7)', async () => {
      const before = env.sandbox.requests().length
      const payments = (await ok('payments', 'list', '--json')).json<unknown[]>().length
      const r = await payKes()
      expect(r.code).toBe(7)
      const err = JSON.parse(r.stderr) as { error: { code: string; message: string } }
      expect(err.error.code).toBe('fee_without_rate')
      expect(err.error.message).toBe(
        `no RWF→KES rate on ${today()} to convert stripe's flat fee of RWF 100 for a KES payment at kigali: set one with \`dsh rates set RWF KES <rate>\``,
      )
      // Nothing reached the sandbox and nothing was recorded.
      expect(env.sandbox.requests().slice(before)).toEqual([])
      expect((await ok('payments', 'list', '--json')).json<unknown[]>()).toHaveLength(payments)
    })

    let c2bPayment = ''
    it('a C2B payment with no rate records the rate part; doctor and health report fee_without_rate', async () => {
      const store = await env.app.store()
      const branch = await requireBranch(store.db, 'kigali')
      const body = {
        TransactionType: 'Pay Bill',
        TransID: 'QFEE000001',
        TransTime: '20261126101500',
        TransAmount: '250.00',
        BusinessShortCode: '600111',
        BillRefNumber: 'kigali',
        MSISDN: '254712000009',
      }
      const row = inboxInsert(env.app.ids, env.app.clock.now().toISOString(), {
        gateway: 'mpesa',
        branchId: branch.id,
        tenantId: branch.tenant_id,
        raw: JSON.stringify(body),
        body,
        headers: {},
        remoteAddr: '127.0.0.1',
        dedupeKey: 'mpesa:QFEE000001',
        gatewayRef: undefined,
      })
      await store.write((trx) => insertInboxBatch(trx, [row]))
      const done = await replayCallback(env.app, row.id, { unmatchedWindowMs: 60_000 })
      expect(done.status, done.note ?? '').toBe('applied')
      const p = (await ok('payments', 'show', done.paymentId as string, '--json')).json<Payment>()
      expect(p).toMatchObject({ status: 'succeeded', feeMinor: 0, fee: '0.00' })
      c2bPayment = p.id
      expect(p.feeFlatConversion).toEqual({
        fromMinor: 100,
        from: '100',
        fromCurrency: 'RWF',
        rate: null,
        asOf: today(),
        flatMinor: 0,
        flat: '0.00',
      })
      const doctor = await run('doctor', '--json')
      expect(doctor.code).toBe(8)
      const message = `fee_without_rate: payment ${p.id} (KES 250.00 at kigali) was recorded without its flat fee of RWF 100: no RWF→KES rate on ${today()}; set one with \`dsh rates set RWF KES <rate> --as-of ${today()}\` and the next \`dsh settle\` adds it`
      expect(JSON.parse(doctor.stderr).error).toMatchObject({
        code: 'fee_without_rate',
        message,
      })
      const report = doctor.json<{ feeWithoutRate: { paymentId: string }[] }>()
      expect(report.feeWithoutRate.map((f) => f.paymentId)).toEqual([p.id])
      const health = await run('health', '--json', '--branch', 'kigali')
      expect(health.code).toBe(8)
      const alerts = health.json<{ alerts: { code: string; message: string }[] }>().alerts
      expect(alerts.filter((a) => a.code === 'fee_without_rate')).toEqual([
        expect.objectContaining({
          message: `kigali: 1 payment(s) recorded without their flat fee for want of a RWF→KES rate (first ${p.id}, ${today()}): set one with \`dsh rates set RWF KES <rate> --as-of ${today()}\``,
        }),
      ])
    })

    it('with a rate, the flat fee is converted exactly (half-up) and recorded on the payment', async () => {
      // 100 RWF × 0.09525 = KES 9.525 → 9.53 (half-up to the cent).
      await ok('rates', 'set', 'RWF', 'KES', '0.09525', '--as-of', '2026-01-01')
      const r = await payKes()
      expect(r.code, r.stderr).toBe(0)
      const p = r.json<Payment>()
      expect(p.status).toBe('succeeded')
      // 2.9% of 50.00 = 1.45; flat 9.53; conversion 1% of 50.00 = 0.50.
      expect(p.feeMinor).toBe(145 + 953 + 50)
      expect(p.feeFlatConversion).toEqual({
        fromMinor: 100,
        from: '100',
        fromCurrency: 'RWF',
        rate: '0.09525',
        asOf: '2026-01-01',
        flatMinor: 953,
        flat: '9.53',
      })
    })

    it('once a rate for its day exists, the next settlement adds the C2B payment’s flat fee', async () => {
      await ok(
        'branch',
        'settlement-account',
        'kigali',
        '--currency',
        'KES',
        '--account-name',
        'Kigali Ltd',
        '--account-number',
        '1234567890',
        '--bank-name',
        'KCB',
        '--holding-hours',
        '0',
        '--transfer',
        'manual',
      )
      const tomorrow = new Date(Date.now() + 26 * 3600_000).toISOString().slice(0, 10)
      await ok('settle', '--branch', 'kigali', '--date', tomorrow, '--json')
      const p = (await ok('payments', 'show', c2bPayment, '--json')).json<Payment>()
      expect(p.feeMinor).toBe(953)
      expect(p.feeFlatConversion).toEqual({
        fromMinor: 100,
        from: '100',
        fromCurrency: 'RWF',
        rate: '0.09525',
        asOf: '2026-01-01',
        flatMinor: 953,
        flat: '9.53',
      })
      // Nothing waits for a rate any more, and the batch agrees with the payments' fees.
      const doctor = await run('doctor', '--json')
      expect(doctor.code, doctor.stderr).toBe(0)
      expect(doctor.json<{ feeWithoutRate: unknown[] }>().feeWithoutRate).toEqual([])
    })
  })
})
