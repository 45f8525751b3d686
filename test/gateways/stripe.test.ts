import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { GatewayAdapter, InitiateRequest } from '../../src/core/payments/gateway-port.js'
import { createAdapter } from '../../src/gateways/index.js'
import { deadPort, dshErrorOf, shape, startWorld, type World } from './helpers.js'

const WHSEC = 'whsec_test_secret'
let w: World
let stripe: GatewayAdapter
let n = 0

const config = (over: Record<string, string> = {}, settings: Record<string, string> = {}) => ({
  settings: { environment: 'sandbox', baseUrl: w.sb.url, ...settings },
  secrets: { secretKey: 'sk_test_123', webhookSecret: WHSEC, ...over },
})
const req = (paymentMethod: string, over: Partial<InitiateRequest> = {}): InitiateRequest => ({
  attemptRef: `att_stripe_${++n}`,
  amountMinor: 1_250n,
  currency: 'USD',
  orderId: `order-${n}`,
  description: 'Dinner',
  callbackUrl: 'https://unused.example/',
  paymentMethod,
  ...over,
})

beforeAll(async () => {
  w = await startWorld()
  stripe = createAdapter('stripe', config(), w.deps)
})
afterAll(async () => {
  await w.close()
})
beforeEach(() => {
  w.sb.reset()
  w.rx.received.length = 0
  w.sb.registerWebhook({ gateway: 'stripe', url: w.rx.url('/webhooks/stripe'), secret: WHSEC })
})

describe('Stripe PaymentIntents against the sandbox', () => {
  it('pm_card_visa succeeds; the signed webhook arrives, verifies and parses', async () => {
    const r = req('pm_card_visa')
    const res = await stripe.initiate(r)
    expect(res.outcome).toMatchObject({
      status: 'succeeded',
      amountMinor: 1_250n,
      code: 'pi.succeeded',
    })
    expect(res.outcome.refs.gatewayRef).toMatch(/^pi_/)
    expect(res.log.request).toMatchObject({
      headers: { Authorization: '[redacted]', 'Idempotency-Key': r.attemptRef },
    })
    expect(JSON.stringify(res.log)).not.toContain('sk_test_123')
    expect(JSON.stringify(res.log.response)).not.toContain('_secret_')

    const [hook] = await w.rx.waitFor(1, '/webhooks/stripe')
    const headers = { 'Stripe-Signature': String(hook!.headers['stripe-signature']) }
    expect(
      stripe.verifyCallback(hook!.body, headers, w.rx.url('/webhooks/stripe'), Date.now()),
    ).toBe(true)
    const parsed = stripe.parseCallback(JSON.parse(hook!.body))
    expect(parsed).toMatchObject({
      attemptRef: r.attemptRef,
      gatewayRef: res.outcome.refs.gatewayRef,
      amountMinor: 1_250n,
      currency: 'USD',
    })
    expect(parsed.dedupeKey).toMatch(/^stripe:evt_/)
    expect(parsed.outcome.status).toBe('succeeded')
    expect(w.sb.ledger()).toMatchObject([
      { gateway: 'stripe', attemptRef: r.attemptRef, amount: '1250', currency: 'usd' },
    ])
  })

  it('declines are final: card_declined and insufficient funds, with a payment_failed webhook', async () => {
    const generic = await stripe.initiate(req('pm_card_chargeDeclined'))
    expect(shape(generic.outcome)).toEqual({
      status: 'failed',
      kind: 'declined',
      gatewayFault: false,
      cancelled: false,
      code: 'generic_decline',
    })
    expect(generic.outcome.refs.gatewayRef).toMatch(/^pi_/)
    const funds = await stripe.initiate(req('pm_card_chargeDeclinedInsufficientFunds'))
    expect(shape(funds.outcome)).toMatchObject({ kind: 'declined', code: 'insufficient_funds' })
    w.sb.script({ gateway: 'stripe', outcome: 'declined' })
    expect(shape((await stripe.initiate(req('pm_card_visa'))).outcome)).toMatchObject({
      kind: 'declined',
    })
    const hooks = await w.rx.waitFor(3, '/webhooks/stripe')
    const events = hooks.map((h) => JSON.parse(h.body))
    expect(events.every((e) => e.type === 'payment_intent.payment_failed')).toBe(true)
    expect(shape(stripe.parseCallback(events[0]).outcome)).toMatchObject({
      status: 'failed',
      kind: 'declined',
    })
    // The query of a declined intent says the same.
    expect(shape((await stripe.query('x', generic.outcome.refs)).outcome)).toMatchObject({
      kind: 'declined',
      code: 'generic_decline',
    })
    expect(w.sb.ledger()).toEqual([])
  })

  it('UGX goes ×100 and RWF as whole francs; KES cents stay cents', async () => {
    await stripe.initiate(req('pm_card_visa', { currency: 'UGX', amountMinor: 5_000n }))
    await stripe.initiate(req('pm_card_visa', { currency: 'RWF', amountMinor: 3_000n }))
    const kes = await stripe.initiate(
      req('pm_card_visa', { currency: 'KES', amountMinor: 150_050n }),
    )
    expect(kes.outcome).toMatchObject({ status: 'succeeded', amountMinor: 150_050n })
    expect(w.sb.ledger().map((c) => `${c.amount} ${c.currency}`)).toEqual([
      '500000 ugx',
      '3000 rwf',
      '150050 kes',
    ])
  })

  it('the sandbox refuses UGX not divisible by 100 (a raw request the adapter would never send)', async () => {
    const res = await fetch(`${w.sb.url}/v1/payment_intents`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer sk_test_1',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'amount=550&currency=ugx&payment_method=pm_card_visa&confirm=true',
    })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(
      'evenly divisible by 100',
    )
  })

  it('idempotency: the same attempt replays the first answer and charges once', async () => {
    const r = req('pm_card_visa')
    const first = await stripe.initiate(r)
    const again = await stripe.initiate(r)
    expect(again.outcome.refs.gatewayRef).toBe(first.outcome.refs.gatewayRef)
    expect((again.log.response as { replayed: boolean }).replayed).toBe(true)
    expect(w.sb.ledger()).toHaveLength(1)
  })

  it('idempotency: the same attempt with other parameters is a conflict, classified unknown', async () => {
    const r = req('pm_card_visa')
    await stripe.initiate(r)
    const other = await stripe.initiate({ ...r, amountMinor: 9_999n })
    expect(shape(other.outcome)).toEqual({
      status: 'failed',
      kind: 'unknown',
      gatewayFault: false,
      cancelled: false,
      code: 'idempotency_error',
    })
    expect(w.sb.ledger()).toHaveLength(1)
  })

  it('a 500 is unknown + gateway fault, and replays for the same key', async () => {
    w.sb.script({ gateway: 'stripe', outcome: 'http_500' })
    const r = req('pm_card_visa')
    const first = await stripe.initiate(r)
    expect(shape(first.outcome)).toEqual({
      status: 'failed',
      kind: 'unknown',
      gatewayFault: true,
      cancelled: false,
      code: 'api_error',
    })
    const replay = await stripe.initiate(r)
    expect(shape(replay.outcome)).toMatchObject({ code: 'api_error' })
    expect((replay.log.response as { replayed: boolean }).replayed).toBe(true)
    expect(w.sb.ledger()).toEqual([])
  })

  it('a reset is unknown for Stripe (it may have run), charges nothing, and a resend with the key goes through once', async () => {
    w.sb.script({ gateway: 'stripe', outcome: 'connection_reset' })
    const r = req('pm_card_visa')
    const res = await stripe.initiate(r)
    expect(shape(res.outcome)).toMatchObject({
      status: 'failed',
      kind: 'unknown',
      gatewayFault: true,
      code: 'transport.reset',
    })
    expect(w.sb.ledger()).toEqual([])
    expect((await stripe.initiate(r)).outcome.status).toBe('succeeded')
    expect(w.sb.ledger()).toHaveLength(1)
  })

  it('slow success: unknown + gateway fault; the search by attempt reference finds it; one charge', async () => {
    w.sb.script({ gateway: 'stripe', outcome: 'slow_success' })
    const r = req('pm_card_visa')
    const res = await stripe.initiate(r)
    expect(shape(res.outcome)).toMatchObject({
      status: 'failed',
      kind: 'unknown',
      gatewayFault: true,
      code: 'transport.read_timeout',
    })
    const q = await stripe.query(r.attemptRef, {})
    expect(q.outcome).toMatchObject({ status: 'succeeded', amountMinor: 1_250n })
    expect(q.outcome.refs.gatewayRef).toMatch(/^pi_/)
    expect((await stripe.query(r.attemptRef, q.outcome.refs)).outcome.status).toBe('succeeded')
    expect(w.sb.ledger()).toHaveLength(1)
    expect(shape((await stripe.query('att_never_sent', {})).outcome)).toMatchObject({
      kind: 'unknown',
      code: 'search.no_match',
    })
  })

  it('duplicate webhooks share one dedupe key', async () => {
    w.sb.script({ gateway: 'stripe', outcome: 'duplicate_callback' })
    await stripe.initiate(req('pm_card_visa'))
    const hooks = await w.rx.waitFor(3, '/webhooks/stripe')
    expect(new Set(hooks.map((h) => stripe.parseCallback(JSON.parse(h.body)).dedupeKey)).size).toBe(
      1,
    )
  })

  it('refuses what it cannot send, before sending', async () => {
    expect(
      await dshErrorOf(() =>
        stripe.initiate(req('pm_card_visa', { currency: 'KES', amountMinor: 0n })),
      ),
    ).toMatchObject({ kind: 'validation' })
    expect(
      await dshErrorOf(() => stripe.initiate({ ...req('x'), paymentMethod: undefined })),
    ).toMatchObject({ code: 'payment_method_required' })
    expect(
      await dshErrorOf(() => stripe.initiate(req('pm_card_visa', { currency: 'XYZ' }))),
    ).toMatchObject({ code: 'unknown_currency' })
  })

  it('testCredentials: ok, rejected (not an sk_ key), unreachable', async () => {
    expect(await stripe.testCredentials()).toMatchObject({ ok: true })
    expect(
      await createAdapter('stripe', config({ secretKey: 'pk_test_1' }), w.deps).testCredentials(),
    ).toMatchObject({ ok: false, problem: 'rejected' })
    const dead = createAdapter(
      'stripe',
      config({}, { baseUrl: `http://127.0.0.1:${await deadPort()}` }),
      w.deps,
    )
    expect(await dead.testCredentials()).toMatchObject({ ok: false, problem: 'unreachable' })
    expect(shape((await dead.initiate(req('pm_card_visa'))).outcome)).toMatchObject({
      kind: 'not_attempted',
      gatewayFault: true,
      code: 'transport.connect_refused',
    })
  })
})

describe('Stripe webhook signatures', () => {
  const body = JSON.stringify({
    id: 'evt_1',
    object: 'event',
    type: 'payment_intent.succeeded',
    data: { object: { object: 'payment_intent' } },
  })
  const sign = (t: number, payload = body, secret = WHSEC) =>
    `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${payload}`).digest('hex')}`
  const now = Date.now()
  const t = Math.floor(now / 1000)
  const ok = (header: string, raw = body, at = now) =>
    stripe.verifyCallback(raw, { 'stripe-signature': header }, '', at)

  it('accepts a valid signature, and any matching v1 among several', () => {
    expect(ok(sign(t))).toBe(true)
    expect(ok(`t=${t},v1=${'0'.repeat(64)},${sign(t).split(',')[1]}`)).toBe(true)
    expect(ok(`${sign(t)},v0=ignored`)).toBe(true)
  })

  it('refuses a tampered body, a wrong secret, a stale or future timestamp, and junk', () => {
    expect(ok(sign(t), body.replace('evt_1', 'evt_2'))).toBe(false)
    expect(ok(sign(t, body, 'whsec_other'))).toBe(false)
    expect(ok(sign(t - 301))).toBe(false)
    expect(ok(sign(t - 299))).toBe(true)
    expect(ok(sign(t + 400))).toBe(false)
    expect(ok('garbage')).toBe(false)
    expect(stripe.verifyCallback(body, {}, '', now)).toBe(false)
  })

  it('an event about something other than a PaymentIntent, or not an event, is a validation error', async () => {
    expect(
      await dshErrorOf(() =>
        stripe.parseCallback({
          id: 'evt_1',
          object: 'event',
          type: 'charge.refunded',
          data: { object: { object: 'charge' } },
        }),
      ),
    ).toMatchObject({ code: 'unsupported_event' })
    expect(
      await dshErrorOf(() => stripe.parseCallback({ Body: { stkCallback: {} } })),
    ).toMatchObject({ code: 'unknown_callback' })
  })
})
