import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS } from '../helpers/dialects.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'
import { freePort, type RunningDaemon, startDaemon, waitFor } from './helpers.js'

/*
 * Issue 24, Deliver 1 (PRODUCT.md, Routing: three outcomes). A push reaches the customer, then
 * the proxy in front of the gateway fails: a bare 502, a 500 without the gateway's error body, a
 * 503 with an HTML page, or a reset after the answer's headers. Each says nothing about the push,
 * so dsh must call it `unknown`: never fail over (the branch has a second gateway that a wrong
 * mapping would call and that would charge the customer again), never push again; the callback
 * settles it. One test over outcomes × gateway on each store (few, large end-to-end tests), with
 * the real CLI and a real daemon taking the sandbox's callbacks.
 */

interface Payment {
  id: string
  status: string
  gateway: string | null
  receiptNumber: string | null
  failure: { code: string; message: string } | null
  skipped: string[]
  attempts: { gateway: string }[]
  routing: { order: string[] }
  timeline: { from: string | null; to: string; actor: string; reason: string }[]
}

// Long enough that every payment is still `unknown` when `dsh pay` returns.
const CALLBACK_DELAY_MS = 1_500

const WHY = {
  mpesa: {
    body: "Daraja's error body",
    proxy: 'from the API gateway in front of M-Pesa',
    resolves: 'its callback (branch + amount + phone) or needs_review resolves it',
    reset: 'Daraja may have read the request and pushed the prompt',
  },
  'mpesa-kcb': {
    body: "Zed's error body",
    proxy: 'from a proxy in front of Zed',
    resolves: 'the callback (orderIds) or the status query by order id resolves it',
    reset: 'Zed may have read the request and pushed the prompt',
  },
} as const
type Gw = keyof typeof WHY

/** [outcome, magic phone, code, the failure message dsh must give] */
const OUTCOMES: readonly [string, string, string, (g: Gw) => string][] = [
  [
    'a bare 502',
    '0700000502',
    'http.502',
    (g) =>
      `HTTP 502 ${WHY[g].proxy}: the push may have reached the phone: no failover; ${WHY[g].resolves} (HTTP 502)`,
  ],
  [
    'a 500 without a gateway body',
    '0700000500',
    'http.500',
    (g) =>
      `HTTP 500 without ${WHY[g].body}: the push may have reached the phone: no failover; ${WHY[g].resolves} (HTTP 500)`,
  ],
  [
    'a 503 with an HTML page',
    '0700000503',
    'http.503',
    (g) =>
      `HTTP 503 without ${WHY[g].body}: the push may have reached the phone: no failover; ${WHY[g].resolves} (HTTP 503)`,
  ],
  [
    'a reset after the headers',
    '0700009506',
    'transport.reset_after_headers',
    // undici's own words follow: "other side closed)".
    (g) =>
      `the connection dropped after the answer's headers, before its body: ${WHY[g].reset}; the push may have reached the phone: no failover; ${WHY[g].resolves} (HTTP 200 headers, then UND_ERR_SOCKET: `,
  ],
]

// Below the high-value threshold M-Pesa goes first (KCB second); from KES 10,000 KCB goes first.
const CASES = (['mpesa', 'mpesa-kcb'] as const).flatMap((gateway, g) =>
  OUTCOMES.map(([what, phone, code, message], i) => ({
    gateway,
    other: (gateway === 'mpesa' ? 'mpesa-kcb' : 'mpesa') as Gw,
    what,
    phone,
    code,
    message: message(gateway),
    amount: gateway === 'mpesa' ? String(310 + i * 10) : `15,${String(110 + i * 10)}`,
    key: `${g}-${i}`,
  })),
)

const PUSH_PATH: Record<Gw, string> = {
  mpesa: '/mpesa/stkpush/v1/processrequest',
  'mpesa-kcb': '/api/v1/payments/initiate_kcb_stk_push',
}

describe.each(DIALECTS)('a push the proxy in front loses, on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('real daemon, real sandbox', () => {
    const env = usePaymentsEnv(name, { callbackDelayMs: CALLBACK_DELAY_MS })
    let daemon: RunningDaemon
    const show = async (id: string) =>
      (await env.run('payments', 'show', id, '--json')).json<Payment>()
    const pushes = (gateway: Gw) =>
      env.sandbox.requests().filter((r) => r.path === PUSH_PATH[gateway])

    beforeAll(async () => {
      // Every case is a gateway fault: the breaker must stay closed through all twelve (an open
      // one would skip KCB as "not attempted", which is right but not what is tested here).
      const kcb = await env.run(
        'gateway',
        'setup',
        'mpesa-kcb',
        '--branch',
        'westlands',
        '--base-url',
        env.sandbox.url,
        '--api-key-file',
        `${env.home}/kcb`,
        '--breaker-threshold',
        '20',
      )
      expect(kcb.code, kcb.stderr).toBe(0)
      const port = await freePort()
      daemon = await startDaemon({ DSH_HOME: env.home, DSH_DB: env.db }, [
        '--port',
        String(port),
        '--public-url',
        `http://127.0.0.1:${port}`,
        '--recovery-interval',
        '1s',
        // The daemon's own recovery stays out of the way: the test asks (`payments sync`) itself.
        '--unknown-schedule',
        '10m',
      ])
    })
    afterAll(async () => {
      expect(await daemon?.stop()).toBe(0)
    })

    it('bare 502, 500 without body, 503 with HTML, reset after headers × M-Pesa, KCB: unknown, no failover, one charge each, settled by the callback (KCB: by its status query when the callback is lost)', async () => {
      env.sandbox.reset()
      const paid: { c: (typeof CASES)[number]; p: Payment }[] = []
      for (const c of CASES) {
        const before = { own: pushes(c.gateway).length, other: pushes(c.other).length }
        const r = await env.run(
          'pay',
          '--branch',
          'westlands',
          '--amount',
          c.amount,
          '--currency',
          'KES',
          '--phone',
          c.phone,
          '--json',
        )
        const label = `${c.gateway} ${c.what} (${c.phone})`
        expect(r.code, `${label}: ${r.stderr}`).toBe(6)
        const p = r.json<Payment>()
        expect(
          {
            status: p.status,
            gateway: p.gateway,
            skipped: p.skipped,
            code: p.failure?.code,
            message:
              c.code === 'transport.reset_after_headers'
                ? p.failure?.message.slice(0, c.message.length)
                : p.failure?.message,
          },
          label,
        ).toEqual({
          status: 'unknown',
          gateway: c.gateway,
          skipped: [],
          code: c.code,
          message: c.message,
        })
        // A second gateway was there to fail over to; it was never asked, ours was asked once.
        expect(p.routing.order, label).toEqual([c.gateway, c.other])
        expect(pushes(c.other).length, label).toBe(before.other)
        expect(pushes(c.gateway).length, label).toBe(before.own + 1)
        paid.push({ c, p })
      }
      // What the sandbox saw of the pushes: a status line, or a reset after the headers.
      expect([...pushes('mpesa'), ...pushes('mpesa-kcb')].map((r) => r.status).sort()).toEqual([
        500,
        500,
        502,
        502,
        503,
        503,
        'reset_after_headers',
        'reset_after_headers',
      ])

      // Every push reached the customer once: the callbacks come and settle each payment.
      const done = await waitFor(
        async () => {
          const all = await Promise.all(paid.map(({ p }) => show(p.id)))
          return all.every((x) => x.status !== 'unknown') ? all : undefined
        },
        20_000,
        'the callbacks to settle every payment',
        200,
      )
      await waitFor(
        () => env.sandbox.deliveries().filter((d) => d.status === 200).length === CASES.length,
        10_000,
        'every callback to be acknowledged',
      )
      const ledger = env.sandbox.ledger()
      expect(ledger).toHaveLength(CASES.length)
      for (const [i, { c }] of paid.entries()) {
        const label = `${c.gateway} ${c.what} (${c.phone})`
        const s = done[i]!
        const charges = ledger.filter(
          (x) => x.phone === `254${c.phone.slice(1)}` && x.amount === c.amount.replace(',', ''),
        )
        expect(
          charges.map((x) => x.gateway),
          label,
        ).toEqual([c.gateway])
        expect(
          {
            status: s.status,
            receipt: s.receiptNumber,
            attempts: s.attempts.map((a) => a.gateway),
            timeline: s.timeline.map((e) => [e.from, e.to]),
          },
          label,
        ).toEqual({
          status: 'succeeded',
          receipt: charges[0]!.receipt,
          attempts: [c.gateway],
          timeline: [
            [null, 'created'],
            ['created', 'unknown'],
            ['unknown', 'succeeded'],
          ],
        })
        expect(s.timeline.at(-1)?.reason, label).toContain(`${c.gateway} callback`)
      }
      // Nothing was ever pushed twice, on either gateway.
      expect([pushes('mpesa').length, pushes('mpesa-kcb').length]).toEqual([4, 4])

      // The callbacks lost (they now go where nothing listens): KCB's status query by order id,
      // the query recovery makes, settles each one (`payments sync` asks it now).
      env.sandbox.reset()
      const dead = await freePort()
      const set = await env.run('config', 'set', 'public-url', `http://127.0.0.1:${dead}`)
      expect(set.code, set.stderr).toBe(0)
      const lost: { what: string; amount: string; id: string }[] = []
      for (const [i, [what, phone, code]] of OUTCOMES.entries()) {
        const amount = `16,${110 + i * 10}`
        const r = await env.run(
          'pay',
          '--branch',
          'westlands',
          '--amount',
          amount,
          '--phone',
          phone,
          '--json',
        )
        expect(r.code, `${what}: ${r.stderr}`).toBe(6)
        const p = r.json<Payment>()
        expect([p.status, p.gateway, p.failure?.code], what).toEqual(['unknown', 'mpesa-kcb', code])
        lost.push({ what, amount: amount.replace(',', ''), id: p.id })
      }
      await waitFor(
        () => env.sandbox.deliveries().filter((d) => d.error).length === OUTCOMES.length,
        10_000,
        'the customers to pay and their callbacks to be lost',
      )
      const charges = env.sandbox.ledger()
      expect(charges.map((x) => [x.gateway, x.amount]).sort()).toEqual(
        lost.map((x) => ['mpesa-kcb', x.amount]).sort(),
      )
      for (const { what, id, amount } of lost) {
        expect((await show(id)).status, what).toBe('unknown')
        const synced = await env.run('payments', 'sync', id, '--json')
        expect(synced.code, `${what}: ${synced.stderr}`).toBe(0)
        const s = await show(id)
        expect([s.status, s.receiptNumber, s.attempts.map((a) => a.gateway)], what).toEqual([
          'succeeded',
          charges.find((x) => x.amount === amount)!.receipt,
          ['mpesa-kcb'],
        ])
        expect(s.timeline.at(-1), what).toMatchObject({ from: 'unknown', to: 'succeeded' })
      }
      expect(pushes('mpesa')).toEqual([])
      expect(pushes('mpesa-kcb')).toHaveLength(OUTCOMES.length)
      expect(env.sandbox.ledger()).toHaveLength(OUTCOMES.length)
    }, 60_000)
  })
})
