import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { usePaymentsEnv } from '../helpers/payments-env.js'
import { freePort, post, type RunningDaemon, startDaemon, stkCallback, waitFor } from './helpers.js'

interface Payment {
  id: string
  status: string
  amount: string
  branch: string
  receiptNumber: string | null
  checkoutRequestId: string | null
  timeline: { from: string | null; to: string; actor: string; reason: string }[]
}
interface Callback {
  id: string
  dedupeKey: string
  status: string
  duplicates: number
  attempts: number
  paymentId: string | null
  note: string | null
}

// A real daemon process (built dist/) against the payments store, with the sandbox calling it.
const env = usePaymentsEnv('sqlite', { callbackDelayMs: 100, slowAnswerMs: 4_000 })
let daemon: RunningDaemon
let mpesaUrl: string
let stripeUrl: string

const run = (...args: string[]) => env.run(...args)
const show = async (id: string) => (await run('payments', 'show', id, '--json')).json<Payment>()
const callbacks = async () => (await run('callbacks', 'list', '--json')).json<Callback[]>()
const pay = async (amount: string, phone: string) => {
  const r = await run(
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
  expect(r.code, r.stderr).toBe(0)
  return r.json<Payment>()
}
const snapshot = async () => ({
  payments: (await run('payments', 'list', '--json')).json<Payment[]>(),
  inbox: await callbacks(),
  audit: (await run('audit', 'list', '--json')).json<unknown[]>().length,
})

beforeAll(async () => {
  const port = await freePort()
  daemon = await startDaemon({ DSH_HOME: env.home, DSH_DB: env.db }, [
    '--port',
    String(port),
    '--public-url',
    `http://127.0.0.1:${port}`,
    '--recovery-interval',
    '1s',
    '--unmatched-window',
    '4s',
  ])
  mpesaUrl = (
    await run('gateway', 'callback-url', 'mpesa', '--branch', 'westlands', '--json')
  ).json<{
    url: string
  }>().url
  stripeUrl = (
    await run('gateway', 'callback-url', 'stripe', '--branch', 'westlands', '--json')
  ).json<{ url: string }>().url
})

afterAll(async () => {
  expect(await daemon?.stop()).toBe(0)
  // Path tokens never reach the log.
  const token = mpesaUrl.split('/').pop() ?? ''
  expect(token).toMatch(/^[0-9a-f]{32}$/)
  expect(daemon.stderr()).not.toContain(token)
})

describe('dsh daemon: callbacks into the durable inbox', () => {
  it('prints callback URLs under the public URL; Daraja’s holds a secret path token', () => {
    expect(mpesaUrl).toBe(`${daemon.url}/callbacks/mpesa/${mpesaUrl.split('/').pop()}`)
    expect(stripeUrl).toBe(`${daemon.url}/webhooks/stripe/westlands`)
  })

  it('the sandbox’s own callback is stored, confirmed by STK query and applied', async () => {
    const p = await pay('120', '0712345678')
    const done = await waitFor(
      async () => ((await show(p.id)).status === 'succeeded' ? show(p.id) : undefined),
      10_000,
      'the callback to be applied',
    )
    expect(done.receiptNumber).toMatch(/^[A-Z0-9]{10}$/)
    expect(done.timeline.filter((e) => e.to === 'succeeded')).toHaveLength(1)
    const entry = (await callbacks()).find((c) => c.paymentId === p.id)
    expect(entry).toMatchObject({ status: 'applied', dedupeKey: `mpesa:${p.checkoutRequestId}` })
    // The push carried the callback URL; its path token is not kept in the attempt's log.
    const shown = await run('payments', 'show', p.id, '--json')
    expect(shown.stdout).toContain('/callbacks/mpesa/[redacted]')
    expect(shown.stdout).not.toContain(mpesaUrl.split('/').pop())
  })

  // 20 identical callbacks in parallel: test/daemon/races.test.ts, on SQLite and PostgreSQL.

  it('a callback that arrives before the payment row is committed is applied once the row exists', async () => {
    // Two pushes of the same amount to the same phone at once: their answers (with the
    // CheckoutRequestIDs) are withheld 4 s (long enough for a loaded daemon to see the callbacks
    // first), the callbacks come at 100 ms. Neither callback can be matched yet (two
    // candidates), so both wait as unmatched until the references exist.
    await run('gateway', 'setup', 'mpesa', '--branch', 'westlands', '--read-timeout', '10')
    env.sandbox.script({ gateway: 'mpesa', outcome: 'slow_success', count: 2 })
    const paying = Promise.all([pay('170', '0712345670'), pay('170', '0712345670')])
    await waitFor(
      async () =>
        (await callbacks()).filter((c) => c.status === 'unmatched').length === 2 ? true : undefined,
      5_000,
      'both early callbacks to be stored as unmatched',
    )
    const early = (await callbacks()).filter((c) => c.status === 'unmatched')
    const paid = await paying
    for (const p of paid) expect(p.status).toBe('pending')
    expect(early.map((c) => c.dedupeKey).sort()).toEqual(
      paid.map((p) => `mpesa:${p.checkoutRequestId}`).sort(),
    )
    for (const p of paid) {
      const done = await waitFor(
        async () => ((await show(p.id)).status === 'succeeded' ? show(p.id) : undefined),
        10_000,
        'the early callback to be applied',
      )
      expect(done.timeline.filter((e) => e.to === 'succeeded')).toHaveLength(1)
      const entry = (await callbacks()).find((c) => c.dedupeKey === `mpesa:${p.checkoutRequestId}`)
      expect(entry).toMatchObject({ status: 'applied', paymentId: p.id })
      expect(entry!.attempts).toBeGreaterThanOrEqual(2)
    }
    await run('gateway', 'setup', 'mpesa', '--branch', 'westlands', '--read-timeout', '1')
  })

  it('a push whose answer timed out is resolved by its callback, matched on phone and amount', async () => {
    // Read timeout 1 s, answer withheld 1.5 s: the push is `unknown` with no CheckoutRequestID.
    env.sandbox.script({ gateway: 'mpesa', outcome: 'slow_success', count: 1 })
    const r = await run(
      'pay',
      '--branch',
      'westlands',
      '--amount',
      '175',
      '--currency',
      'KES',
      '--phone',
      '0712345675',
      '--json',
    )
    // The callback (at 100 ms) may settle the payment before the 1 s timeout: 0 or 6 both fine.
    expect([0, 6]).toContain(r.code)
    const p = r.json<Payment>()
    const done = await waitFor(
      async () => ((await show(p.id)).status === 'succeeded' ? show(p.id) : undefined),
      10_000,
      'the callback to resolve the timed-out push',
    )
    expect(done.checkoutRequestId).toMatch(/^ws_CO_/)
    expect(done.receiptNumber).toMatch(/^[A-Z0-9]{10}$/)
    expect(done.timeline.filter((e) => e.to === 'succeeded')).toHaveLength(1)
    expect(env.sandbox.ledger().filter((c) => c.phone === '254712345675')).toHaveLength(1)
    const attempts = (await run('payments', 'show', p.id, '--json')).json<{
      attempts: { status: string; gatewayRef: string | null }[]
    }>().attempts
    expect(attempts).toEqual([
      expect.objectContaining({ status: 'succeeded', gatewayRef: done.checkoutRequestId }),
    ])
  })

  it('refuses malformed JSON (400), 1 MiB (413), a wrong path token (404), bad or stale Stripe signatures (401), changing nothing', async () => {
    const before = await snapshot()
    expect((await post(mpesaUrl, '{"Body": {')).status).toBe(400)
    expect((await post(mpesaUrl, JSON.stringify({ pad: 'x'.repeat(1024 * 1024) }))).status).toBe(
      413,
    )
    const base = mpesaUrl.slice(0, mpesaUrl.lastIndexOf('/'))
    expect((await post(`${base}/${'0'.repeat(32)}`, stkCallback('ws_CO_x'))).status).toBe(404)
    expect((await post(`${base}/not-a-token`, stkCallback('ws_CO_x'))).status).toBe(404)
    expect(
      (await post(`${daemon.url}/callbacks/mpesa-kcb/${mpesaUrl.split('/').pop()}`, {})).status,
    ).toBe(404)
    const event = JSON.stringify({
      id: 'evt_test_1',
      object: 'event',
      type: 'payment_intent.succeeded',
      data: {
        object: {
          id: 'pi_x',
          object: 'payment_intent',
          status: 'succeeded',
          amount: 100,
          currency: 'kes',
          metadata: {},
        },
      },
    })
    const sign = (t: number, secret: string) =>
      `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${event}`).digest('hex')}`
    const now = Math.floor(Date.now() / 1000)
    expect((await post(stripeUrl, event)).status).toBe(401)
    expect(
      (await post(stripeUrl, event, { 'stripe-signature': sign(now, 'whsec_wrong') })).status,
    ).toBe(401)
    expect(
      (await post(stripeUrl, event, { 'stripe-signature': sign(now - 600, 'whsec_sandbox123') }))
        .status,
    ).toBe(401)
    expect((await post(`${daemon.url}/webhooks/stripe/nowhere`, event)).status).toBe(404)
    expect((await fetch(mpesaUrl)).status).toBe(405)
    // The daemon answers a callback only once it is stored (the 200 is the commit), so these
    // refusals are final: nothing of theirs can land later.
    expect(await snapshot()).toEqual(before)
    // The same event, signed now with the branch's webhook secret, is accepted.
    const ok = await post(stripeUrl, event, { 'stripe-signature': sign(now, 'whsec_sandbox123') })
    expect(ok.status).toBe(200)
    const metrics = await (await fetch(`${daemon.url}/metrics`)).text()
    expect(metrics).toContain('dsh_callbacks_rejected_total{gateway="mpesa",reason="token"}')
    expect(metrics).toContain('dsh_callbacks_rejected_total{gateway="stripe",reason="signature"}')
  })

  it('a verified callback for an unknown CheckoutRequestID never changes a payment; it is orphaned and audited', async () => {
    const before = (await snapshot()).payments
    const r = await post(mpesaUrl, stkCallback('ws_CO_26112026000000000001', { amount: '100.00' }))
    expect(r.status).toBe(200)
    const orphan = await waitFor(
      async () =>
        (await callbacks()).find(
          (c) => c.dedupeKey === 'mpesa:ws_CO_26112026000000000001' && c.status === 'orphaned',
        ),
      10_000,
      'the unmatched callback to be orphaned',
    )
    expect(orphan.paymentId).toBeNull()
    expect((await snapshot()).payments).toEqual(before)
    const audit = (await run('audit', 'list', '--action', 'callback.orphaned', '--json')).json<
      { target: string; actor: string }[]
    >()
    expect(audit.map((a) => a.target)).toContain(orphan.id)
    expect(audit.find((a) => a.target === orphan.id)?.actor).toBe('daemon')
  })

  it('a callback with another amount sends the payment to needs_review, never to succeeded', async () => {
    const p = await pay('180', '0700009001')
    await waitFor(
      () => env.sandbox.ledger().some((c) => c.reference === p.checkoutRequestId),
      10_000,
      'the customer to pay',
    )
    expect(
      (await post(mpesaUrl, stkCallback(p.checkoutRequestId!, { amount: '181.00' }))).status,
    ).toBe(200)
    const done = await waitFor(
      async () => ((await show(p.id)).status === 'needs_review' ? show(p.id) : undefined),
      10_000,
      'the payment to need review',
    )
    expect(done.timeline.at(-1)?.reason).toContain('amount 18100 ≠ 18000')
    const entry = (await callbacks()).find((c) => c.dedupeKey === `mpesa:${p.checkoutRequestId}`)
    expect(entry?.status).toBe('review')
  })

  it('an unreadable body from a verified source is kept and sends its payment to review', async () => {
    const p = await pay('190', '0700009001')
    const body = {
      Body: { stkCallback: { CheckoutRequestID: p.checkoutRequestId, ResultCode: 'weird' } },
    }
    expect((await post(mpesaUrl, body)).status).toBe(200)
    const done = await waitFor(
      async () => ((await show(p.id)).status === 'needs_review' ? show(p.id) : undefined),
      10_000,
      'the payment to need review',
    )
    expect(done.timeline.at(-1)?.reason).toContain('unrecognised mpesa callback')
  })

  it('C2B confirmations with no STK push become payments of the branch owning shortcode and account', async () => {
    const c2b = (transId: string, billRef: string) => ({
      TransactionType: 'Pay Bill',
      TransID: transId,
      TransTime: '20261126101500',
      TransAmount: '250.00',
      BusinessShortCode: '174379',
      BillRefNumber: billRef,
      InvoiceNumber: '',
      OrgAccountBalance: '',
      ThirdPartyTransID: '',
      MSISDN: '2547 ***** 126',
      FirstName: 'JOHN',
      MiddleName: '',
      LastName: 'DOE',
    })
    // westlands and karen share shortcode 174379: the account reference names the branch.
    expect((await post(mpesaUrl, c2b('QC2B000001', 'karen-t7'))).status).toBe(200)
    expect((await post(mpesaUrl, c2b('QC2B000002', 'table-9'))).status).toBe(200)
    const made = await waitFor(
      async () =>
        (await callbacks()).find((c) => c.dedupeKey === 'mpesa:QC2B000001' && c.paymentId),
      10_000,
      'the C2B payment',
    )
    const p = await show(made.paymentId!)
    expect(p).toMatchObject({
      status: 'succeeded',
      branch: 'karen',
      amount: '250.00',
      receiptNumber: 'QC2B000001',
    })
    const unowned = await waitFor(
      async () =>
        (await callbacks()).find(
          (c) =>
            c.dedupeKey === 'mpesa:QC2B000002' &&
            c.status !== 'received' &&
            c.status !== 'processing',
        ),
      10_000,
      'the unowned C2B confirmation',
    )
    expect(unowned).toMatchObject({ status: 'review', paymentId: null })
    // Replaying the first changes nothing: the receipt is already recorded.
    const replay = await run('callbacks', 'replay', made.id, '--json')
    expect(replay.code, replay.stderr).toBe(0)
    expect(replay.json<Callback>().paymentId).toBe(p.id)
    const karen = (await run('payments', 'list', '--branch', 'karen', '--json')).json<Payment[]>()
    expect(karen.filter((x) => x.receiptNumber === 'QC2B000001')).toHaveLength(1)
  })

  it('KCB pushes are confirmed through their callback URL and a status query', async () => {
    // 15,000 is high-value: routed to mpesa-kcb, whose sandbox calls the daemon back.
    const p = await pay('15,000', '0712345671')
    const done = await waitFor(
      async () => ((await show(p.id)).status === 'succeeded' ? show(p.id) : undefined),
      10_000,
      'the KCB callback to be applied',
    )
    expect(done.timeline.filter((e) => e.to === 'succeeded')).toHaveLength(1)
    const entry = (await callbacks()).find((c) => c.paymentId === p.id)
    expect(entry?.dedupeKey).toMatch(/^mpesa-kcb:/)
    expect(entry?.status).toBe('applied')
  })

  it('show and list never print the phone number of a callback', async () => {
    const entry = (await callbacks()).find((c) => c.dedupeKey.startsWith('mpesa:ws_CO_'))!
    const r = await run('callbacks', 'show', entry.id, '--json')
    expect(r.code).toBe(0)
    expect(r.stdout).not.toContain('254712345678')
    expect(r.stdout).toContain('254******678')
  })
})
