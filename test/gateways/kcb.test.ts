import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { GatewayAdapter, InitiateRequest } from '../../src/core/payments/gateway-port.js'
import { createAdapter } from '../../src/gateways/index.js'
import { waitFor } from '../helpers/wait.js'
import { dshErrorOf, shape, startWorld, type World } from './helpers.js'

let w: World
let kcb: GatewayAdapter
let n = 0

const config = (over: Record<string, string> = {}) => ({
  settings: { environment: 'sandbox', externalOrigin: 'biz-42', baseUrl: w.sb.url },
  secrets: { apiKey: 'zed-test-key', ...over },
})
const req = (phone: string, over: Partial<InitiateRequest> = {}): InitiateRequest => ({
  attemptRef: `att_kcb_${++n}`,
  amountMinor: 2_500_000n,
  currency: 'KES',
  phone,
  orderId: `order-${n}`,
  description: 'Banquet',
  callbackUrl: w.rx.url(`/cb/kcb/${n}`),
  ...over,
})

beforeAll(async () => {
  w = await startWorld()
  kcb = createAdapter('mpesa-kcb', config(), w.deps)
})
afterAll(async () => {
  await w.close()
})
beforeEach(() => {
  w.sb.reset()
  w.rx.received.length = 0
})

describe('KCB via Zed against the sandbox', () => {
  it('pushes, gets our callback shape, and the status query agrees', async () => {
    const r = req('+254 712 345 678')
    const res = await kcb.initiate(r)
    expect(res.outcome.status).toBe('pending')
    const ref = res.outcome.refs.gatewayRef!
    expect(res.log.request).toMatchObject({
      headers: { 'X-Authorization': '[redacted]' },
      body: { amount: 25_000, orderIds: [r.attemptRef] },
    })
    const [cb] = await w.rx.waitFor(1, new URL(r.callbackUrl).pathname)
    const body = JSON.parse(cb!.body)
    expect(Object.keys(body).sort()).toEqual(
      [
        'amount',
        'orderIds',
        'phone',
        'receiptNumber',
        'requestReferenceId',
        'resultCode',
        'resultDesc',
        'status',
      ].sort(),
    )
    const parsed = kcb.parseCallback(body)
    expect(parsed).toMatchObject({
      dedupeKey: `mpesa-kcb:${ref}`,
      attemptRef: r.attemptRef,
      amountMinor: 2_500_000n,
      currency: 'KES',
    })
    expect(parsed.outcome.status).toBe('succeeded')
    const q = await kcb.query(r.attemptRef, res.outcome.refs)
    expect(q.outcome).toMatchObject({ status: 'succeeded', amountMinor: 2_500_000n })
    expect(q.outcome.refs.receiptNumber).toMatch(/^[A-Z0-9]{10}$/)
    expect(w.sb.ledger()).toMatchObject([
      { gateway: 'mpesa-kcb', reference: ref, attemptRef: r.attemptRef, amount: '25000' },
    ])
  })

  const customer = [
    ['0700000001', '1', false],
    ['0700001032', '1032', true],
    ['0700001037', '1037', false],
    ['0700002001', '2001', false],
  ] as const
  for (const [phone, code, cancelled] of customer) {
    it(`magic ${phone} → ResultCode ${code}: declined, no gateway fault`, async () => {
      const r = req(phone)
      const res = await kcb.initiate(r)
      const [cb] = await w.rx.waitFor(1, new URL(r.callbackUrl).pathname)
      for (const o of [
        kcb.parseCallback(JSON.parse(cb!.body)).outcome,
        (await kcb.query('x', res.outcome.refs)).outcome,
      ])
        expect(shape(o)).toEqual({
          status: 'failed',
          kind: 'declined',
          gatewayFault: false,
          cancelled,
          code,
        })
      expect(w.sb.ledger()).toEqual([])
    })
  }

  it("5xx carrying Zed's own error body are not attempted with a gateway fault and charge nothing", async () => {
    const results = [await kcb.initiate(req('0700009500')), await kcb.initiate(req('0700009503'))]
    w.sb.script({ gateway: 'mpesa-kcb', outcome: 'http_503', count: 2 })
    results.push(await kcb.initiate(req('0712345678')), await kcb.initiate(req('0712345678')))
    for (const r of results)
      expect(shape(r.outcome)).toMatchObject({
        status: 'failed',
        kind: 'not_attempted',
        gatewayFault: true,
      })
    expect(results.map((r) => [r.outcome.code, r.outcome.message])).toEqual([
      ['INTERNAL_ERROR', 'Internal Server Error: the request was not processed'],
      [
        'SERVICE_UNAVAILABLE',
        'Service Unavailable: the request was not processed, try again later',
      ],
      [
        'SERVICE_UNAVAILABLE',
        'Service Unavailable: the request was not processed, try again later',
      ],
      [
        'SERVICE_UNAVAILABLE',
        'Service Unavailable: the request was not processed, try again later',
      ],
    ])
    await waitFor(() => w.sb.pending() === 0, 5_000, 'the sandbox to be idle')
    expect(w.sb.ledger()).toEqual([])
    // The script is used up: the next push goes through.
    expect((await kcb.initiate(req('0712345678'))).outcome.status).toBe('pending')
  })

  it('a reset before any answer is unknown (no failover), though the sandbox charged nothing', async () => {
    const r = await kcb.initiate(req('0700009504'))
    expect(shape(r.outcome)).toEqual({
      status: 'failed',
      kind: 'unknown',
      gatewayFault: true,
      cancelled: false,
      code: 'transport.reset',
    })
    expect(r.outcome.message).toMatch(
      /^the connection dropped before any answer: Zed may have read the request and pushed the prompt; the push may have reached the phone: no failover/,
    )
    await waitFor(() => w.sb.pending() === 0, 5_000, 'the sandbox to be idle')
    expect(w.sb.ledger()).toEqual([])
  })

  for (const [phone, code] of [
    ['0700009505', 'transport.reset'],
    ['0700000504', 'http.504'],
  ] as const) {
    it(`${code} after the push was processed: unknown, one charge, the callback and the query by order id resolve it`, async () => {
      const r = req(phone)
      const res = await kcb.initiate(r)
      expect(shape(res.outcome)).toEqual({
        status: 'failed',
        kind: 'unknown',
        gatewayFault: true,
        cancelled: false,
        code,
      })
      const [cb] = await w.rx.waitFor(1, new URL(r.callbackUrl).pathname)
      const parsed = kcb.parseCallback(JSON.parse(cb!.body))
      expect(parsed.attemptRef).toBe(r.attemptRef)
      expect(parsed.outcome.status).toBe('succeeded')
      const ledger = w.sb.ledger()
      expect(ledger).toHaveLength(1)
      expect(ledger[0]).toMatchObject({
        gateway: 'mpesa-kcb',
        attemptRef: r.attemptRef,
        amount: '25000',
        receipt: parsed.outcome.refs.receiptNumber,
      })
      const q = await kcb.query(r.attemptRef, {})
      expect(q.outcome).toMatchObject({
        status: 'succeeded',
        refs: { receiptNumber: ledger[0]!.receipt },
      })
    })
  }

  it('a locked subscriber is not attempted without a fault', async () => {
    const res = await kcb.initiate(req('0700000026'))
    expect(shape(res.outcome)).toEqual({
      status: 'failed',
      kind: 'not_attempted',
      gatewayFault: false,
      cancelled: false,
      code: 'SUBSCRIBER_LOCKED',
    })
  })

  it('lost and duplicate callbacks', async () => {
    const lost = await kcb.initiate(req('0700009001'))
    const dup = req('0700009002')
    await kcb.initiate(dup)
    const cbs = await w.rx.waitFor(3, new URL(dup.callbackUrl).pathname)
    expect(new Set(cbs.map((c) => kcb.parseCallback(JSON.parse(c.body)).dedupeKey)).size).toBe(1)
    expect(w.sb.deliveries()).toHaveLength(3)
    expect((await kcb.query('x', lost.outcome.refs)).outcome.status).toBe('succeeded')
    expect(w.sb.ledger()).toHaveLength(2)
  })

  it('slow answer: unknown + gateway fault, and the customer was charged once', async () => {
    const r = req('0700009408')
    const res = await kcb.initiate(r)
    expect(shape(res.outcome)).toMatchObject({
      status: 'failed',
      kind: 'unknown',
      gatewayFault: true,
      code: 'transport.read_timeout',
    })
    const [cb] = await w.rx.waitFor(1, new URL(r.callbackUrl).pathname)
    const parsed = kcb.parseCallback(JSON.parse(cb!.body))
    expect(parsed.attemptRef).toBe(r.attemptRef) // KCB echoes our reference: the attempt is found
    expect((await kcb.query(r.attemptRef, { gatewayRef: parsed.gatewayRef })).outcome.status).toBe(
      'succeeded',
    )
    expect(w.sb.ledger()).toHaveLength(1)
  })

  it('KES only and whole shillings', async () => {
    expect(
      await dshErrorOf(() =>
        kcb.initiate(req('0712345678', { currency: 'UGX', amountMinor: 5000n })),
      ),
    ).toMatchObject({
      kind: 'validation',
      code: 'unsupported_currency',
    })
    const e = await dshErrorOf(() => kcb.initiate(req('0712345678', { amountMinor: 150_050n })))
    expect(e.message).toBe('KCB M-Pesa takes whole shillings: 1500.50 cannot be sent')
  })

  it('credentials: a refused key is rejected and a push with it is not attempted', async () => {
    expect(await kcb.testCredentials()).toMatchObject({ ok: true })
    const bad = createAdapter('mpesa-kcb', config({ apiKey: 'invalid' }), w.deps)
    expect(await bad.testCredentials()).toMatchObject({ ok: false, problem: 'rejected' })
    expect(shape((await bad.initiate(req('0712345678'))).outcome)).toMatchObject({
      kind: 'not_attempted',
      gatewayFault: false,
      code: 'UNAUTHORIZED',
    })
  })

  it('an unknown callback shape is a validation error; verifyCallback trusts the path token', async () => {
    expect(await dshErrorOf(() => kcb.parseCallback({ Body: { stkCallback: {} } }))).toMatchObject({
      kind: 'validation',
    })
    expect(kcb.verifyCallback('{}', {}, 'http://x', Date.now())).toBe(true)
  })
})
