import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { GatewayAdapter, InitiateRequest } from '../../src/core/payments/gateway-port.js'
import { createAdapter, squareIdempotencyKey } from '../../src/gateways/index.js'
import { dshErrorOf, shape, startWorld, type World } from './helpers.js'

const KEY = 'square-signature-key'
let w: World
let square: GatewayAdapter
let hookUrl: string
let n = 0

const config = (secrets: Record<string, string> = {}, settings: Record<string, string> = {}) => ({
  settings: {
    environment: 'sandbox',
    baseUrl: w.sb.url,
    locationId: 'LKE001',
    webhookUrl: hookUrl,
    ...settings,
  },
  secrets: { accessToken: 'EAAAsandbox', webhookSignatureKey: KEY, ...secrets },
})
const req = (paymentMethod: string, over: Partial<InitiateRequest> = {}): InitiateRequest => ({
  attemptRef: `att_square_${++n}`,
  amountMinor: 150_000n,
  currency: 'KES',
  orderId: `order-${n}`,
  description: 'Lunch, table 2',
  callbackUrl: 'https://unused.example/',
  paymentMethod,
  ...over,
})

beforeAll(async () => {
  w = await startWorld()
  hookUrl = w.rx.url('/webhooks/square')
  square = createAdapter('square', config(), w.deps)
})
afterAll(async () => {
  await w.close()
})
beforeEach(() => {
  w.sb.reset()
  w.rx.received.length = 0
  w.sb.registerWebhook({ gateway: 'square', url: hookUrl, secret: KEY })
})

describe('Square payments against the sandbox', () => {
  it('records an EXTERNAL payment; the signed payment.updated webhook verifies and parses', async () => {
    const r = req('EXTERNAL')
    const res = await square.initiate(r)
    expect(res.outcome).toMatchObject({
      status: 'succeeded',
      amountMinor: 150_000n,
      code: 'payment.COMPLETED',
    })
    expect(res.log.request).toMatchObject({
      body: {
        idempotency_key: r.attemptRef,
        reference_id: r.attemptRef,
        external_details: { type: 'OTHER' },
        location_id: 'LKE001',
      },
    })
    const [hook] = await w.rx.waitFor(1, '/webhooks/square')
    const headers = {
      'X-Square-HmacSha256-Signature': String(hook!.headers['x-square-hmacsha256-signature']),
    }
    expect(
      square.verifyCallback(hook!.body, headers, 'http://proxy.internal/ignored', Date.now()),
    ).toBe(true)
    const parsed = square.parseCallback(JSON.parse(hook!.body))
    expect(parsed).toMatchObject({
      attemptRef: r.attemptRef,
      gatewayRef: res.outcome.refs.gatewayRef,
      amountMinor: 150_000n,
      currency: 'KES',
    })
    expect(parsed.dedupeKey).toMatch(/^square:/)
    expect(w.sb.ledger()).toMatchObject([
      { gateway: 'square', attemptRef: r.attemptRef, amount: '150000', currency: 'KES' },
    ])
  })

  it('a card nonce completes; a declined nonce is declined with the reason', async () => {
    expect((await square.initiate(req('cnon:card-nonce-ok'))).outcome.status).toBe('succeeded')
    const declined = await square.initiate(req('cnon:card-nonce-declined'))
    expect(shape(declined.outcome)).toEqual({
      status: 'failed',
      kind: 'declined',
      gatewayFault: false,
      cancelled: false,
      code: 'GENERIC_DECLINE',
    })
    expect(declined.outcome.refs.gatewayRef).toBeTruthy()
    w.sb.script({ gateway: 'square', outcome: 'insufficient_funds' })
    expect(shape((await square.initiate(req('cnon:card-nonce-ok'))).outcome)).toMatchObject({
      code: 'INSUFFICIENT_FUNDS',
    })
    expect(shape((await square.query('x', declined.outcome.refs)).outcome)).toMatchObject({
      status: 'failed',
      kind: 'declined',
      code: 'payment.FAILED',
    })
    expect(w.sb.ledger()).toHaveLength(1)
  })

  it('idempotency: a resend returns the same payment; other data with the same key is unknown', async () => {
    const r = req('CASH')
    const first = await square.initiate(r)
    const again = await square.initiate(r)
    expect(again.outcome.refs.gatewayRef).toBe(first.outcome.refs.gatewayRef)
    const other = await square.initiate({ ...r, amountMinor: 1n })
    expect(shape(other.outcome)).toMatchObject({
      status: 'failed',
      kind: 'unknown',
      gatewayFault: false,
      code: 'IDEMPOTENCY_KEY_REUSED',
    })
    expect(w.sb.ledger()).toHaveLength(1)
  })

  it('a long attempt reference is digested into a ≤ 45 character key', () => {
    const long = `att_${'x'.repeat(60)}`
    expect(squareIdempotencyKey(long).length).toBeLessThanOrEqual(45)
    expect(squareIdempotencyKey(long)).toBe(squareIdempotencyKey(long))
    expect(squareIdempotencyKey('att_short')).toBe('att_short')
  })

  it('5xx and a reset are unknown (Square may have created it); the lookup by reference resolves a slow answer', async () => {
    w.sb.script({ gateway: 'square', outcome: 'http_503' })
    expect(shape((await square.initiate(req('EXTERNAL'))).outcome)).toMatchObject({
      kind: 'unknown',
      gatewayFault: true,
      code: 'SERVICE_UNAVAILABLE',
    })
    w.sb.script({ gateway: 'square', outcome: 'connection_reset' })
    expect(shape((await square.initiate(req('EXTERNAL'))).outcome)).toMatchObject({
      kind: 'unknown',
      gatewayFault: true,
      code: 'transport.reset',
    })
    expect(w.sb.ledger()).toEqual([])
    w.sb.script({ gateway: 'square', outcome: 'slow_success' })
    const r = req('EXTERNAL')
    expect(shape((await square.initiate(r)).outcome)).toMatchObject({
      kind: 'unknown',
      code: 'transport.read_timeout',
    })
    const q = await square.query(r.attemptRef, {})
    expect(q.outcome).toMatchObject({ status: 'succeeded', amountMinor: 150_000n })
    expect((await square.query(r.attemptRef, q.outcome.refs)).outcome.status).toBe('succeeded')
    expect(w.sb.ledger()).toHaveLength(1)
    expect(shape((await square.query('att_never', {})).outcome)).toMatchObject({
      kind: 'unknown',
      code: 'lookup.no_match',
    })
  })

  it('the location currency, when configured, is enforced before sending', async () => {
    const usd = createAdapter('square', config({}, { locationCurrency: 'USD' }), w.deps)
    expect(await dshErrorOf(() => usd.initiate(req('EXTERNAL')))).toMatchObject({
      kind: 'validation',
      code: 'unsupported_currency',
    })
  })

  it('testCredentials: ok with the location currency, rejected token', async () => {
    expect(await square.testCredentials()).toMatchObject({
      ok: true,
      message: expect.stringContaining('KES'),
    })
    expect(
      await createAdapter('square', config({ accessToken: 'invalid' }), w.deps).testCredentials(),
    ).toMatchObject({ ok: false, problem: 'rejected' })
  })
})

describe('Square webhook signatures', () => {
  const body =
    '{"type":"payment.updated","event_id":"e1","data":{"object":{"payment":{"id":"p1","status":"COMPLETED"}}}}'
  const sig = (url: string, raw = body, key = KEY) =>
    createHmac('sha256', key)
      .update(url + raw)
      .digest('base64')
  const verify = (s: string, raw = body, adapter = square, url = 'http://ignored') =>
    adapter.verifyCallback(raw, { 'x-square-hmacsha256-signature': s }, url, Date.now())

  it('valid, tampered body, wrong URL, wrong key', () => {
    expect(verify(sig(hookUrl))).toBe(true)
    expect(verify(sig(hookUrl), body.replace('COMPLETED', 'FAILED'))).toBe(false)
    expect(verify(sig('https://other.example/webhooks/square'))).toBe(false)
    expect(verify(sig(hookUrl, body, 'other-key'))).toBe(false)
    expect(verify('')).toBe(false)
  })

  it('without a configured webhookUrl the URL the request came to is signed', () => {
    const noUrl = createAdapter('square', config({}, { webhookUrl: '' }), w.deps)
    expect(
      verify(
        sig('https://dsh.example/webhooks/square/westlands'),
        body,
        noUrl,
        'https://dsh.example/webhooks/square/westlands',
      ),
    ).toBe(true)
  })

  it('an unknown body is a validation error', async () => {
    expect(await dshErrorOf(() => square.parseCallback({ type: 'payment.updated' }))).toMatchObject(
      { kind: 'validation', code: 'unknown_callback' },
    )
  })
})
