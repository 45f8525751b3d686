import { describe, expect, it } from 'vitest'
import { DIALECTS } from '../helpers/dialects.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'

interface Payment {
  id: string
  status: string
  gateway: string | null
  skipped: string[]
}
interface BreakerRow {
  branch: string
  gateway: string
  breaker: string
  consecutiveFaults: number
}

describe.each(DIALECTS)('breaker on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('store', () => {
    const env = usePaymentsEnv(name)
    const pay = (...args: string[]) =>
      env.run('pay', '--branch', 'westlands', '--currency', 'KES', '--json', ...args)
    const breaker = async (gateway: string) =>
      (await env.run('gateway', 'status', '--branch', 'westlands', '--json'))
        .json<BreakerRow[]>()
        .find((r) => r.gateway === gateway)

    describe('circuit breaker per branch × gateway, shared through the store', () => {
      it('50 customer cancellations do not open it', async () => {
        // 50 payments at once on a loaded machine: a 1 s read timeout would count as faults.
        for (const gw of ['mpesa', 'mpesa-kcb'])
          expect(
            (await env.run('gateway', 'setup', gw, '--branch', 'westlands', '--read-timeout', '30'))
              .code,
          ).toBe(0)
        for (let i = 0; i < 50; i++)
          env.sandbox.script({ gateway: 'mpesa', outcome: 'cancelled', count: 1 })
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            pay('--amount', String(100 + i), '--phone', '0712345678', '--wait', '--timeout', '10s'),
          ),
        )
        expect(results.map((r) => r.json<Payment>().status)).toEqual(Array(50).fill('cancelled'))
        expect(await breaker('mpesa')).toMatchObject({ breaker: 'closed', consecutiveFaults: 0 })
      })

      it('5 gateway faults open it, and the next payment skips that gateway', async () => {
        env.sandbox.script({ gateway: 'mpesa', outcome: 'http_500', count: 5 })
        env.sandbox.script({ gateway: 'mpesa-kcb', outcome: 'success', count: 5 })
        for (let i = 0; i < 5; i++) {
          const r = await pay('--amount', '500', '--phone', '0712345678')
          // Each 500 before acceptance is safe to fail over: KCB takes the payment.
          expect(r.json<Payment>()).toMatchObject({ gateway: 'mpesa-kcb' })
        }
        expect(await breaker('mpesa')).toMatchObject({ breaker: 'open', consecutiveFaults: 5 })
        const before = env.sandbox.requests().filter((q) => q.path.includes('stkpush')).length
        const next = await pay('--amount', '600', '--phone', '0712345678')
        expect(next.code, next.stderr).toBe(0)
        const p = next.json<Payment>()
        expect(p.gateway).toBe('mpesa-kcb')
        expect(p.skipped[0]).toMatch(/mpesa: circuit breaker open/)
        expect(env.sandbox.requests().filter((q) => q.path.includes('stkpush')).length).toBe(before)
        // Another branch's M-Pesa is unaffected.
        const karen = await env.run(
          'pay',
          '--branch',
          'karen',
          '--currency',
          'KES',
          '--amount',
          '700',
          '--phone',
          '0712345678',
          '--json',
        )
        expect(karen.json<Payment>().gateway).toBe('mpesa')
      })

      it('after the cool-down one probe goes through and a success closes it', async () => {
        expect(
          (
            await env.run(
              'gateway',
              'setup',
              'mpesa',
              '--branch',
              'westlands',
              '--breaker-cooldown',
              '1',
            )
          ).code,
        ).toBe(0)
        // timer(clock): the breaker's 1 s cool-down runs on the product's wall clock
        await new Promise((r) => setTimeout(r, 1_100))
        const r = await pay('--amount', '800', '--phone', '0712345678')
        expect(r.json<Payment>().gateway).toBe('mpesa')
        expect(await breaker('mpesa')).toMatchObject({ breaker: 'closed' })
      })
    })
  })
})
