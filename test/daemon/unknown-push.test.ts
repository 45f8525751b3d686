import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS } from '../helpers/dialects.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'
import { freePort, type RunningDaemon, startDaemon, waitFor } from './helpers.js'

/*
 * PRODUCT.md, Routing (three outcomes): a reset after the request was written and a 504 from the
 * API gateway in front say nothing about the push, which may still reach the phone. Over real
 * HTTP, with a real daemon taking the sandbox's callbacks: exactly one charge, no attempt on a
 * second gateway, the payment `unknown` until the callback arrives, then `succeeded` with the
 * callback's receipt; `needs_review` when no callback (and no query) can tell.
 */

interface Attempt {
  gateway: string
  status: string
  failureKind: string | null
  code: string | null
}
interface Payment {
  id: string
  status: string
  gateway: string | null
  receiptNumber: string | null
  failure: { code: string; message: string } | null
  skipped: string[]
  attempts: Attempt[]
  routing: { order: string[] }
  timeline: { from: string | null; to: string; actor: string; reason: string }[]
}

// The sandbox calls back 1.5 s after the push: long enough to see the payment `unknown` first.
const CALLBACK_DELAY_MS = 1_500

const MPESA_UNKNOWN =
  'the push may have reached the phone: no failover; its callback (branch + amount + phone) or needs_review resolves it'
const KCB_UNKNOWN =
  'the push may have reached the phone: no failover; the callback (orderIds) or the status query by order id resolves it'

/** [gateway, phone, amount, code, failure message (a prefix for a reset: undici's text follows)] */
const CASES = [
  [
    'mpesa',
    '0700009505',
    '210',
    'transport.reset',
    `the connection dropped before any answer: Daraja may have read the request and pushed the prompt; ${MPESA_UNKNOWN} (`,
  ],
  [
    'mpesa',
    '0700000504',
    '220',
    'http.504',
    `HTTP 504 from the API gateway in front of M-Pesa: ${MPESA_UNKNOWN} (HTTP 504)`,
  ],
  [
    'mpesa-kcb',
    '0700009505',
    '15,010',
    'transport.reset',
    `the connection dropped before any answer: Zed may have read the request and pushed the prompt; ${KCB_UNKNOWN} (`,
  ],
  [
    'mpesa-kcb',
    '0700000504',
    '15,020',
    'http.504',
    `HTTP 504 from a proxy in front of Zed: ${KCB_UNKNOWN} (HTTP 504)`,
  ],
] as const

describe.each(DIALECTS)('a push whose answer is lost, on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('real daemon, real sandbox', () => {
    const env = usePaymentsEnv(name, { callbackDelayMs: CALLBACK_DELAY_MS })
    let daemon: RunningDaemon
    const show = async (id: string) =>
      (await env.run('payments', 'show', id, '--json')).json<Payment>()
    const pay = (amount: string, phone: string) =>
      env.run(
        'pay',
        '--branch',
        'westlands',
        '--amount',
        amount,
        '--currency',
        'KES',
        '--phone',
        phone,
        '--json',
      )
    const pushes = (gateway: string) =>
      env.sandbox
        .requests()
        .filter(
          (r) =>
            r.path ===
            (gateway === 'mpesa'
              ? '/mpesa/stkpush/v1/processrequest'
              : '/api/v1/payments/initiate_kcb_stk_push'),
        ).length

    beforeAll(async () => {
      const port = await freePort()
      daemon = await startDaemon({ DSH_HOME: env.home, DSH_DB: env.db }, [
        '--port',
        String(port),
        '--public-url',
        `http://127.0.0.1:${port}`,
        '--recovery-interval',
        '1s',
        '--recovery-schedule',
        '1s,2s,3s',
        // Unknown payments are asked at 5 s and 6 s after the push, then go to review.
        '--unknown-schedule',
        '5s,6s',
      ])
    })
    afterAll(async () => {
      expect(await daemon?.stop()).toBe(0)
    })

    for (const [gateway, phone, amount, code, message] of CASES) {
      it(`${gateway} ${phone} (${code}): one charge, no failover, unknown until the callback, then succeeded with its receipt`, async () => {
        const other = gateway === 'mpesa' ? 'mpesa-kcb' : 'mpesa'
        const ledgerBefore = env.sandbox.ledger().length
        const otherBefore = pushes(other)
        const ownBefore = pushes(gateway)
        const r = await pay(amount, phone)
        expect(r.code, r.stderr).toBe(6)
        const p = r.json<Payment>()
        expect(p.status).toBe('unknown')
        expect(p.gateway).toBe(gateway)
        expect(p.routing.order).toEqual(
          gateway === 'mpesa' ? ['mpesa', 'mpesa-kcb'] : ['mpesa-kcb', 'mpesa'],
        )
        expect(p.skipped).toEqual([])
        expect(p.failure?.code).toBe(code)
        if (message.endsWith('(')) expect(p.failure?.message.startsWith(message)).toBe(true)
        else expect(p.failure?.message).toBe(message)
        // The second gateway was never asked; our own was asked once.
        expect(pushes(other)).toBe(otherBefore)
        expect(pushes(gateway)).toBe(ownBefore + 1)
        const shown = await show(p.id)
        expect(shown.status).toBe('unknown')
        expect(shown.attempts.map((a) => [a.gateway, a.status, a.failureKind, a.code])).toEqual([
          [gateway, 'unknown', 'unknown', code],
        ])
        // No second push to that phone for that amount while the outcome is unknown.
        const again = await pay(amount, phone)
        expect(again.code).toBe(5)
        expect(again.stderr).toContain(
          `payment ${p.id} of the same amount to 2547******${phone.slice(-2)} has an unknown outcome; the customer may already have paid`,
        )
        const done = await waitFor(
          async () => {
            const s = await show(p.id)
            return s.status === 'unknown' ? undefined : s
          },
          10_000,
          'the callback to resolve the payment',
          100,
        )
        const charges = env.sandbox.ledger().slice(ledgerBefore)
        expect(charges).toHaveLength(1)
        expect(charges[0]).toMatchObject({ gateway, phone: `254${phone.slice(1)}` })
        expect(done.status).toBe('succeeded')
        expect(done.receiptNumber).toBe(charges[0]!.receipt)
        expect(done.timeline.map((e) => [e.from, e.to])).toEqual([
          [null, 'created'],
          ['created', 'unknown'],
          ['unknown', 'succeeded'],
        ])
        expect(done.timeline.at(-1)?.actor).toMatch(/^daemon/)
        expect(done.timeline.at(-1)?.reason).toContain(`${gateway} callback`)
        // Still exactly one charge and nothing on the other gateway once it is all over (the
        // sandbox has nothing left to do).
        await waitFor(() => env.sandbox.pending() === 0, 10_000, 'the sandbox to be idle')
        expect(env.sandbox.ledger().slice(ledgerBefore)).toHaveLength(1)
        expect(pushes(other)).toBe(otherBefore)
      }, 20_000)
    }

    it('control: what cannot have reached the phone still fails over (connection refused on KCB, a 503 with Daraja’s own error body)', async () => {
      const dead = await freePort()
      const setKcb = (url: string) =>
        env.run(
          'gateway',
          'setup',
          'mpesa-kcb',
          '--branch',
          'westlands',
          '--base-url',
          url,
          // A new base URL keeps no stored secret: the key is given again.
          '--api-key-file',
          `${env.home}/kcb`,
        )
      {
        const r = await setKcb(`http://127.0.0.1:${dead}`)
        expect(r.code, r.stderr).toBe(0)
      }
      const ledgerBefore = env.sandbox.ledger().length
      try {
        const r = await pay('15,040', '0712340001')
        expect(r.code, r.stderr).toBe(0)
        const p = r.json<Payment>()
        expect(p).toMatchObject({ status: 'pending', gateway: 'mpesa' })
        expect(p.skipped).toHaveLength(1)
        expect(p.skipped[0]).toMatch(
          /^mpesa-kcb: connection refused or host unreachable: the request never left; safe to fail over/,
        )
        const shown = await show(p.id)
        expect(shown.attempts.map((a) => [a.gateway, a.status, a.failureKind, a.code])).toEqual([
          ['mpesa-kcb', 'failed', 'not_attempted', 'transport.connect_refused'],
          ['mpesa', 'pending', null, '0'],
        ])
      } finally {
        expect((await setKcb(env.sandbox.url)).code).toBe(0)
      }
      env.sandbox.script({ gateway: 'mpesa', outcome: 'http_503' })
      const kcbBefore = pushes('mpesa-kcb')
      const r2 = await pay('240', '0712340002')
      expect(r2.code, r2.stderr).toBe(0)
      const p2 = r2.json<Payment>()
      expect(p2).toMatchObject({ status: 'pending', gateway: 'mpesa-kcb' })
      expect(p2.skipped).toEqual([
        'mpesa: Service Unavailable: the request was not processed, try again later',
      ])
      expect(pushes('mpesa-kcb')).toBe(kcbBefore + 1)
      await waitFor(
        () => env.sandbox.ledger().length >= ledgerBefore + 2,
        10_000,
        'both payments to be charged',
      )
      await waitFor(() => env.sandbox.pending() === 0, 10_000, 'the sandbox to be idle')
      const charges = env.sandbox.ledger().slice(ledgerBefore)
      expect(charges.map((c) => [c.gateway, c.phone])).toEqual([
        ['mpesa', '254712340001'],
        ['mpesa-kcb', '254712340002'],
      ])
    }, 20_000)

    it('with the callback lost, M-Pesa (no CheckoutRequestID to query) ends in needs_review; KCB is resolved by its query by order id', async () => {
      // Callbacks now go where nothing listens: the sandbox's deliveries are dropped.
      const dead = await freePort()
      const set = await env.run('config', 'set', 'public-url', `http://127.0.0.1:${dead}`)
      expect(set.code, set.stderr).toBe(0)
      const ledgerBefore = env.sandbox.ledger().length
      const mp = (await pay('230', '0700009505')).json<Payment>()
      const kc = (await pay('15,030', '0700000504')).json<Payment>()
      expect([mp.status, kc.status]).toEqual(['unknown', 'unknown'])
      const final = await waitFor(
        async () => {
          const all = [await show(mp.id), await show(kc.id)]
          return all.every((x) => x.status !== 'unknown') ? all : undefined
        },
        15_000,
        'recovery to settle both payments',
        200,
      )
      const charges = env.sandbox.ledger().slice(ledgerBefore)
      expect(charges.map((c) => c.gateway).sort()).toEqual(['mpesa', 'mpesa-kcb'])
      const [m, k] = final
      expect(m!.status).toBe('needs_review')
      expect(m!.timeline.at(-1)).toMatchObject({ from: 'unknown', to: 'needs_review' })
      expect(m!.timeline.at(-1)?.reason).toContain('no final answer after 2 recovery checks')
      expect(k!.status).toBe('succeeded')
      expect(k!.timeline.at(-1)?.reason).toMatch(/^recovery query: mpesa-kcb: /)
      expect(k!.receiptNumber).toBe(charges.find((c) => c.gateway === 'mpesa-kcb')!.receipt)
      // Each was pushed once, on its own gateway only.
      expect(m!.attempts.map((a) => a.gateway)).toEqual(['mpesa'])
      expect(k!.attempts.map((a) => a.gateway)).toEqual(['mpesa-kcb'])
      const dropped = env.sandbox.deliveries().filter((d) => d.url.includes(`:${dead}/`))
      expect(dropped).toHaveLength(2)
    }, 30_000)
  })
})
