import { describe, expect, it } from 'vitest'
import { DIALECTS } from '../helpers/dialects.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'
import { waitFor } from '../helpers/wait.js'

interface Payment {
  id: string
  status: string
  gateway: string | null
  receiptNumber: string | null
  checkoutRequestId: string | null
  failure: { code: string; message: string } | null
  amountMinor: number
  amount: string
  currency: string
  phoneMasked: string | null
  feeMinor: number | null
  skipped: string[]
  replayed: boolean
  routing: { rule: string; order: string[] }
}

describe.each(DIALECTS)(
  'dsh pay on $name against the sandbox over real HTTP',
  ({ name, enabled }) => {
    describe.runIf(enabled)('payments', () => {
      const env = usePaymentsEnv(name)
      const pay = (...args: string[]) =>
        env.run('pay', '--branch', 'westlands', '--currency', 'KES', '--json', ...args)

      it('an ordinary M-Pesa payment is pending, then succeeds with --wait', async () => {
        const r = await pay(
          '--amount',
          '1,500',
          '--phone',
          '0712345678',
          '--order',
          'T1-1',
          '--wait',
          '--timeout',
          '10s',
        )
        expect(r.code, r.stderr).toBe(0)
        const p = r.json<Payment>()
        expect(p).toMatchObject({
          status: 'succeeded',
          gateway: 'mpesa',
          amountMinor: 150000,
          amount: '1500.00',
          currency: 'KES',
          phoneMasked: '2547******78',
        })
        // STK Query carries no receipt number; it arrives with the callback (the daemon's job).
        expect(p.checkoutRequestId).toMatch(/^ws_CO_/)
        expect(p.routing.order).toEqual(['mpesa', 'mpesa-kcb'])
      })

      it('without --wait it returns pending with exit 0', async () => {
        const r = await pay('--amount', '100', '--phone', '0712345678')
        expect(r.code, r.stderr).toBe(0)
        expect(r.json<Payment>().status).toBe('pending')
      })

      it.each([
        ['0700001032', 'cancelled', 8, { code: '1032', message: 'Request cancelled by user' }],
        ['0700001037', 'failed', 8, { code: '1037', message: 'DS timeout user cannot be reached' }],
        [
          '0700000001',
          'failed',
          8,
          { code: '1', message: 'The balance is insufficient for the transaction.' },
        ],
        [
          '0700002001',
          'failed',
          8,
          { code: '2001', message: 'The initiator information is invalid.' },
        ],
        ['0700009001', 'succeeded', 0, null], // lost callback: the query tells the truth
        ['0700009003', 'succeeded', 0, null], // late callback
        ['0700009002', 'succeeded', 0, null], // duplicate callbacks
      ])(
        'phone %s ends %s (exit %i) with its exact failure',
        async (phone, status, code, failure) => {
          const r = await pay('--amount', '200', '--phone', phone, '--wait', '--timeout', '10s')
          expect(r.code, r.stderr).toBe(code)
          const p = r.json<Payment>()
          expect(p.status).toBe(status)
          expect(p.gateway).toBe('mpesa')
          expect(p.skipped).toEqual([])
          expect(p.failure).toEqual(failure)
        },
      )

      it('a push the gateway refuses with 503 fails over to the next gateway', async () => {
        const r = await pay(
          '--amount',
          '300',
          '--phone',
          '0700009503',
          '--wait',
          '--timeout',
          '10s',
        )
        // mpesa answers 503 with Daraja's own error body (not processed): safe to fail over; the sandbox's KCB takes the same phone and also answers 503 with Zed's.
        expect(r.code).toBe(6)
        // Failed with nothing charged: there is nothing for `payments sync` to resolve.
        expect(r.stderr).not.toContain('payments sync')
        const p = r.json<Payment>()
        expect(p.status).toBe('failed')
        const why = 'Service Unavailable: the request was not processed, try again later'
        expect(p.skipped).toEqual([`mpesa: ${why}`, `mpesa-kcb: ${why}`])
        expect(p.failure).toEqual({
          code: 'gateway_unavailable',
          message: `mpesa: ${why}; mpesa-kcb: ${why}`,
        })
        expect(env.sandbox.ledger().filter((c) => c.phone === '254700009503')).toEqual([])
      })

      it('KCB answering 503 fails over to M-Pesa, which succeeds', async () => {
        env.sandbox.script({ gateway: 'mpesa-kcb', outcome: 'http_503', count: 1 })
        const before = env.sandbox.ledger().length
        const r = await pay(
          '--amount',
          '15,000',
          '--phone',
          '0712345678',
          '--wait',
          '--timeout',
          '10s',
        )
        expect(r.code, r.stderr).toBe(0)
        const p = r.json<Payment>()
        expect(p).toMatchObject({ status: 'succeeded', gateway: 'mpesa' })
        expect(p.routing.order).toEqual(['mpesa-kcb', 'mpesa'])
        expect(p.skipped[0]).toContain('mpesa-kcb')
        const charges = env.sandbox.ledger().slice(before)
        expect(charges).toHaveLength(1)
        expect(charges[0]?.gateway).toBe('mpesa')
      })

      it('KCB timing out after charging: no failover, unknown, then sync resolves it with exactly one charge', async () => {
        env.sandbox.script({ gateway: 'mpesa-kcb', outcome: 'slow_success', count: 1 })
        const before = env.sandbox.ledger().length
        const r = await pay('--amount', '20,000', '--phone', '0722000111')
        expect(r.code).toBe(6)
        const p = r.json<Payment>()
        expect(p).toMatchObject({ status: 'unknown', gateway: 'mpesa-kcb' })
        expect(r.stderr).toContain(`dsh payments sync ${p.id}`)
        expect(p.skipped).toEqual([])
        // The same phone and amount cannot be pushed again while the outcome is unknown.
        const again = await pay('--amount', '20,000', '--phone', '0722000111')
        expect(again.code).toBe(5)
        // KCB charges the customer after its slow answer: wait for that charge, not for a time.
        await waitFor(
          () =>
            env.sandbox
              .ledger()
              .slice(before)
              .some((c) => c.gateway === 'mpesa-kcb'),
          20_000,
          'KCB to charge the customer',
        )
        const synced = await env.run('payments', 'sync', p.id, '--json')
        expect(synced.code, synced.stderr).toBe(0)
        expect(synced.json<Payment>().status).toBe('succeeded')
        const charges = env.sandbox.ledger().slice(before)
        expect(charges).toHaveLength(1)
        expect(charges[0]?.gateway).toBe('mpesa-kcb')
      })

      it('card payments go to Stripe and record the fee', async () => {
        const r = await pay(
          '--amount',
          '1,000',
          '--method',
          'card',
          '--payment-method',
          'pm_card_visa',
          '--wait',
          '--timeout',
          '10s',
        )
        expect(r.code, r.stderr).toBe(0)
        const p = r.json<Payment>()
        expect(p).toMatchObject({ status: 'succeeded', gateway: 'stripe' })
        expect(p.feeMinor).toBe(2900 + 3000)
        const declined = await pay(
          '--amount',
          '1,000',
          '--method',
          'card',
          '--payment-method',
          'pm_card_chargeDeclined',
          '--wait',
          '--timeout',
          '10s',
        )
        expect(declined.code).toBe(8)
        expect(declined.json<Payment>().status).toBe('failed')
      })

      it('cash is recorded as succeeded at once', async () => {
        const r = await pay('--amount', '300', '--method', 'cash')
        expect(r.code, r.stderr).toBe(0)
        expect(r.json<Payment>()).toMatchObject({ status: 'succeeded', gateway: 'cash' })
      })

      it('refuses bad input with the documented exit codes', async () => {
        expect((await pay('--amount', '12.345', '--phone', '0712345678')).code).toBe(3)
        const half = await pay('--amount', '1500.50', '--phone', '0712345678')
        expect(half.code).toBe(3)
        expect(half.stderr).toMatch(/whole shillings/)
        expect((await pay('--amount', '100', '--phone', '12345')).code).toBe(3)
        const usd = await env.run(
          'pay',
          '--branch',
          'karen',
          '--amount',
          '10',
          '--currency',
          'USD',
          '--phone',
          '0712345678',
        )
        expect(usd.code).toBe(3)
        expect(usd.stderr).toMatch(/mpesa/)
        expect(
          (
            await env.run(
              'pay',
              '--branch',
              'nowhere',
              '--amount',
              '10',
              '--currency',
              'KES',
              '--phone',
              '0712345678',
            )
          ).code,
        ).toBe(4)
        expect((await env.run('pay', '--amount', '10', '--currency', 'KES')).code).toBe(2)
        expect((await env.run('branch', 'disable', 'karen')).code).toBe(0)
        expect(
          (
            await env.run(
              'pay',
              '--branch',
              'karen',
              '--amount',
              '10',
              '--currency',
              'KES',
              '--phone',
              '0712345678',
            )
          ).code,
        ).toBe(4)
        expect((await env.run('branch', 'enable', 'karen')).code).toBe(0)
      })

      it('idempotency: the same key and request replays; a different request is exit 5', async () => {
        const first = await pay(
          '--amount',
          '250',
          '--phone',
          '0712345678',
          '--idempotency-key',
          'order-77',
          '--order',
          '77',
        )
        expect(first.code, first.stderr).toBe(0)
        const again = await pay(
          '--amount',
          '250',
          '--phone',
          '+254 712 345 678',
          '--idempotency-key',
          'order-77',
          '--order',
          '77',
          '--wait',
          '--timeout',
          '10s',
        )
        expect(again.code, again.stderr).toBe(0)
        const a = again.json<Payment>()
        expect(a.id).toBe(first.json<Payment>().id)
        expect(a.replayed).toBe(true)
        const other = await pay(
          '--amount',
          '251',
          '--phone',
          '0712345678',
          '--idempotency-key',
          'order-77',
          '--order',
          '77',
        )
        expect(other.code).toBe(5)
      })

      it('payments list, show and explain', async () => {
        const list = (
          await env.run(
            'payments',
            'list',
            '--branch',
            'westlands',
            '--status',
            'succeeded',
            '--json',
          )
        ).json<Payment[]>()
        expect(list.length).toBeGreaterThan(3)
        expect(list.every((p) => p.status === 'succeeded')).toBe(true)
        const show = await env.run('payments', 'show', list[0]?.id ?? '', '--json')
        expect(show.code).toBe(0)
        const detail = show.json<{ attempts: { status: string }[]; timeline: { to: string }[] }>()
        expect(detail.timeline[0]?.to).toBe('created')
        expect((await env.run('payments', 'show', 'pay_nope')).code).toBe(4)
        const explain = await env.run(
          'route',
          'explain',
          '--branch',
          'westlands',
          '--amount',
          '15000',
          '--currency',
          'KES',
          '--json',
        )
        expect(explain.json()).toMatchObject({ rule: 'high value', order: ['mpesa-kcb', 'mpesa'] })
        const audit = (await env.run('audit', 'list', '--action', 'payment.*', '--json')).stdout
        expect(audit).not.toContain('0712345678')
        expect(audit).not.toContain('254712345678')
      })
    })
  },
)
