import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { InitiateRequest } from '../../src/core/payments/gateway-port.js'
import {
  accountReferenceFor,
  createAdapter,
  createGatewayDeps,
  type DarajaAdapter,
  parseStkCallback,
} from '../../src/gateways/index.js'
import { waitFor } from '../helpers/wait.js'
import { deadPort, dshErrorOf, SANDBOX_MPESA, shape, startWorld, type World } from './helpers.js'

let w: World
let mpesa: DarajaAdapter

const config = (
  over: { settings?: Record<string, string>; secrets?: Record<string, string> } = {},
) => ({
  settings: { ...SANDBOX_MPESA.settings, baseUrl: w.sb.url, ...over.settings },
  secrets: { ...SANDBOX_MPESA.secrets, ...over.secrets },
})

let n = 0
const req = (phone: string, over: Partial<InitiateRequest> = {}): InitiateRequest => ({
  attemptRef: `att_daraja_${++n}`,
  amountMinor: 150_000n,
  currency: 'KES',
  phone,
  orderId: `order-${n}`,
  description: 'Table 4 lunch',
  callbackUrl: w.rx.url(`/cb/mpesa/${n}`),
  ...over,
})

const waitUntilLedger = async (n: number) => {
  await waitFor(() => w.sb.ledger().length >= n, 5_000, `${n} charges`)
}

const tokenRequests = () => w.sb.requests().filter((r) => r.path === '/oauth/v1/generate').length
const pushes = () => w.sb.requests().filter((r) => r.path === '/mpesa/stkpush/v1/processrequest')

beforeAll(async () => {
  w = await startWorld()
  mpesa = createAdapter('mpesa', config(), w.deps) as DarajaAdapter
})
afterAll(async () => {
  await w.close()
})
beforeEach(() => {
  w.sb.reset()
  w.deps.tokens.clear()
  w.rx.received.length = 0
})

describe('Daraja STK push against the sandbox', () => {
  it('accepts a push, delivers the documented callback and the query agrees', async () => {
    const r = req('0712 345 678')
    const res = await mpesa.initiate(r)
    expect(res.outcome.status).toBe('pending')
    const checkout = res.outcome.refs.gatewayRef!
    expect(checkout).toMatch(/^ws_CO_\d+$/)
    expect(res.outcome.refs.secondaryRef).toBeTruthy()

    // The request sent: Password never logged, phones masked, Timestamp reused in the Password.
    const logged = res.log.request as { body: Record<string, unknown> }
    expect(logged.body['Password']).toBe('[redacted]')
    expect(logged.body['PartyA']).toBe('254******678')
    expect(logged.body['AccountReference']).toBe(accountReferenceFor(r.attemptRef))
    expect(JSON.stringify(res.log)).not.toContain(SANDBOX_MPESA.secrets.passkey)

    const [cb] = await w.rx.waitFor(1, new URL(r.callbackUrl).pathname)
    const raw = JSON.parse(cb!.body)
    const stk = parseStkCallback(raw)!
    expect(stk.checkoutRequestId).toBe(checkout)
    expect(stk.resultCode).toBe('0')
    expect(stk.receiptNumber).toMatch(/^[A-Z0-9]{10}$/)
    expect(stk.phoneNumber).toBe('254712345678')
    expect(stk.transactionDate).toMatch(/^\d{14}$/)
    expect(cb!.body).toContain('"Value":1500.00')
    const parsed = mpesa.parseCallback(raw)
    expect(parsed.dedupeKey).toBe(`mpesa:${checkout}`)
    expect(parsed.outcome).toMatchObject({ status: 'succeeded', amountMinor: 150_000n })
    expect(parsed.outcome.refs.receiptNumber).toBe(stk.receiptNumber)

    const q = await mpesa.query(r.attemptRef, res.outcome.refs)
    expect(shape(q.outcome)).toEqual({ status: 'succeeded', code: '0' })

    // The deliveries log matches what the receiver got.
    const d = w.sb.deliveries()
    expect(d).toHaveLength(1)
    expect(d[0]).toMatchObject({
      gateway: 'mpesa',
      url: r.callbackUrl,
      status: 200,
      body: cb!.body,
    })
    expect(w.sb.ledger()).toMatchObject([
      {
        gateway: 'mpesa',
        reference: checkout,
        attemptRef: accountReferenceFor(r.attemptRef),
        amount: '1500',
        currency: 'KES',
        phone: '254712345678',
      },
    ])
  })

  it('the query says pending while the customer has not acted', async () => {
    const slowSandbox = await startWorld({ callbackDelayMs: 2_000 })
    try {
      const a = createAdapter(
        'mpesa',
        { ...config(), settings: { ...config().settings, baseUrl: slowSandbox.sb.url } },
        slowSandbox.deps,
      )
      const res = await a.initiate(req('0712345678', { callbackUrl: slowSandbox.rx.url() }))
      const q = await a.query('x', res.outcome.refs)
      expect(shape(q.outcome)).toEqual({ status: 'pending', code: '500.001.1001/being_processed' })
    } finally {
      await slowSandbox.close()
    }
  })

  const customerOutcomes = [
    ['0700000001', 'insufficient_funds', '1', false],
    ['0700001032', 'cancelled', '1032', true],
    ['0700001037', 'unreachable', '1037', false],
    ['0700002001', 'wrong_pin', '2001', false],
    ['0700000017', 'rule_limited', '17', false],
  ] as const
  for (const [phone, outcome, code, cancelled] of customerOutcomes) {
    it(`${outcome}: magic ${phone} and the control script give ResultCode ${code}, declined, no gateway fault`, async () => {
      const viaMagic = await mpesa.initiate(req(phone))
      w.sb.script({ gateway: 'mpesa', outcome })
      const viaScript = await mpesa.initiate(req('0712345678'))
      for (const res of [viaMagic, viaScript]) {
        expect(res.outcome.status).toBe('pending')
        await w.rx.waitFor(1, `/cb/mpesa/${n - (res === viaMagic ? 1 : 0)}`)
        const q = await mpesa.query('x', res.outcome.refs)
        expect(shape(q.outcome)).toEqual({
          status: 'failed',
          kind: 'declined',
          gatewayFault: false,
          cancelled,
          code,
        })
      }
      const cbs = w.rx.received.filter((r) => r.path === `/cb/mpesa/${n}`)
      const parsed = mpesa.parseCallback(JSON.parse(cbs[0]!.body))
      expect(shape(parsed.outcome)).toEqual({
        status: 'failed',
        kind: 'declined',
        gatewayFault: false,
        cancelled,
        code,
      })
      expect(JSON.parse(cbs[0]!.body).Body.stkCallback.CallbackMetadata).toBeUndefined()
      expect(w.sb.ledger()).toEqual([])
    })
  }

  // Refused with Daraja's own error envelope: not processed, so not attempted (failover is safe).
  const pushFailures = [
    [
      '0700000026',
      'subscriber_lock',
      {
        kind: 'not_attempted',
        gatewayFault: false,
        code: '500.001.1001/subscriber_locked',
        message:
          'Unable to lock subscriber, a transaction is already in process for the current subscriber',
      },
    ],
    [
      '0700009500',
      'http_500',
      {
        kind: 'not_attempted',
        gatewayFault: true,
        code: '500.003.1001',
        message: 'Internal Server Error',
      },
    ],
    [
      '0700009503',
      'http_503',
      {
        kind: 'not_attempted',
        gatewayFault: true,
        code: '500.003.1001',
        message: 'Service Unavailable: the request was not processed, try again later',
      },
    ],
    [
      undefined,
      'spike_arrest',
      {
        kind: 'not_attempted',
        gatewayFault: true,
        code: '500.003.02',
        message: 'Spike Arrest Violation',
      },
    ],
  ] as const
  for (const [phone, outcome, expected] of pushFailures) {
    it(`${outcome}: refused with Daraja's error envelope → not attempted, nothing charged`, async () => {
      const results = []
      if (phone) results.push(await mpesa.initiate(req(phone)))
      w.sb.script({ gateway: 'mpesa', outcome })
      results.push(await mpesa.initiate(req('0712345678')))
      for (const res of results)
        expect({ ...shape(res.outcome), message: res.outcome.message }).toEqual({
          status: 'failed',
          cancelled: false,
          ...expected,
        })
      // Nothing left for the sandbox to do, so no charge can still come.
      await waitFor(() => w.sb.pending() === 0, 5_000, 'the sandbox to be idle')
      expect(w.sb.ledger()).toEqual([])
      expect(w.sb.deliveries()).toEqual([])
    })
  }

  it('a reset before any answer is unknown (it may follow a processed push), though the sandbox charged nothing', async () => {
    const res = await mpesa.initiate(req('0700009504'))
    expect(shape(res.outcome)).toEqual({
      status: 'failed',
      kind: 'unknown',
      gatewayFault: true,
      cancelled: false,
      code: 'transport.reset',
    })
    expect(res.outcome.refs).toEqual({})
    await waitFor(() => w.sb.pending() === 0, 5_000, 'the sandbox to be idle')
    expect(w.sb.ledger()).toEqual([])
  })

  const answerLost = [
    ['0700009505', 'reset_after_charge', 'transport.reset'],
    ['0700000504', 'http_504_charged', 'http.504'],
  ] as const
  for (const [phone, outcome, code] of answerLost) {
    it(`${outcome}: the answer is lost but the push reached the phone → unknown, one charge, the callback names phone and amount`, async () => {
      const r = req(phone)
      const res = await mpesa.initiate(r)
      expect(shape(res.outcome)).toEqual({
        status: 'failed',
        kind: 'unknown',
        gatewayFault: true,
        cancelled: false,
        code,
      })
      expect(res.outcome.message).toMatch(/may have reached the phone: no failover/)
      const [cb] = await w.rx.waitFor(1, new URL(r.callbackUrl).pathname)
      const stk = parseStkCallback(JSON.parse(cb!.body))!
      expect(stk).toMatchObject({
        resultCode: '0',
        amount: '1500',
        phoneNumber: `254${phone.slice(1)}`,
      })
      const ledger = w.sb.ledger()
      expect(ledger).toHaveLength(1)
      expect(ledger[0]).toMatchObject({
        gateway: 'mpesa',
        reference: stk.checkoutRequestId,
        receipt: stk.receiptNumber,
        attemptRef: accountReferenceFor(r.attemptRef),
        amount: '1500',
      })
      // Without a CheckoutRequestID the push cannot be queried: still unknown, never "not attempted".
      const q = await mpesa.query(r.attemptRef, {})
      expect(shape(q.outcome)).toMatchObject({
        kind: 'unknown',
        code: 'dsh.no_checkout_request_id',
      })
    })
  }

  it('the same outcomes scripted: a bare 504 and a reset after charging are unknown', async () => {
    w.sb.script({ gateway: 'mpesa', outcome: 'http_504_charged' })
    w.sb.script({ gateway: 'mpesa', outcome: 'reset_after_charge' })
    const a = await mpesa.initiate(req('0712345678', { amountMinor: 10_000n }))
    const b = await mpesa.initiate(req('0712345679', { amountMinor: 20_000n }))
    expect([a.outcome.code, b.outcome.code]).toEqual(['http.504', 'transport.reset'])
    expect([a, b].map((x) => x.outcome.status === 'failed' && x.outcome.kind)).toEqual([
      'unknown',
      'unknown',
    ])
    await waitUntilLedger(2)
    expect(
      w.sb
        .ledger()
        .map((c) => c.amount)
        .sort(),
    ).toEqual(['100', '200'])
  })

  it('slow success: a 1 s read timeout is unknown + gateway fault; the callback and the query resolve it; one charge', async () => {
    const r = req('0700009408')
    const started = Date.now()
    const res = await mpesa.initiate(r)
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(shape(res.outcome)).toEqual({
      status: 'failed',
      kind: 'unknown',
      gatewayFault: true,
      cancelled: false,
      code: 'transport.read_timeout',
    })
    expect(res.outcome.refs.gatewayRef).toBeUndefined()
    // No CheckoutRequestID: the query alone cannot resolve it …
    const blind = await mpesa.query(r.attemptRef, {})
    expect(shape(blind.outcome)).toMatchObject({
      status: 'failed',
      kind: 'unknown',
      code: 'dsh.no_checkout_request_id',
    })
    // … but the (unsigned) callback names the checkout, and the query confirms it.
    const [cb] = await w.rx.waitFor(1, new URL(r.callbackUrl).pathname)
    const parsed = mpesa.parseCallback(JSON.parse(cb!.body))
    expect(parsed.outcome.status).toBe('succeeded')
    const q = await mpesa.query(r.attemptRef, { gatewayRef: parsed.gatewayRef })
    expect(shape(q.outcome)).toEqual({ status: 'succeeded', code: '0' })
    const ledger = w.sb.ledger()
    expect(ledger).toHaveLength(1)
    expect(ledger[0]).toMatchObject({
      attemptRef: accountReferenceFor(r.attemptRef),
      amount: '1500',
    })
  })

  it('lost callback: the customer pays, no callback ever comes, the query tells the truth', async () => {
    const res = await mpesa.initiate(req('0700009001'))
    // The customer has paid and the sandbox has nothing left to send.
    await waitFor(() => w.sb.pending() === 0, 5_000, 'the sandbox to be idle')
    expect(w.sb.deliveries()).toEqual([])
    expect(w.sb.ledger()).toHaveLength(1)
    const q = await mpesa.query('x', res.outcome.refs)
    expect(q.outcome.status).toBe('succeeded')
  })

  it('duplicate callback: three identical deliveries with one dedupe key, one charge', async () => {
    const r = req('0700009002')
    await mpesa.initiate(r)
    const cbs = await w.rx.waitFor(3, new URL(r.callbackUrl).pathname)
    const keys = new Set(cbs.map((c) => mpesa.parseCallback(JSON.parse(c.body)).dedupeKey))
    expect(keys.size).toBe(1)
    expect(new Set(cbs.map((c) => c.body)).size).toBe(1)
    expect(w.sb.ledger()).toHaveLength(1)
  })

  it('late callback: the query already knows; the callback arrives later', async () => {
    const r = req('0700009003')
    const res = await mpesa.initiate(r)
    await waitFor(() => w.sb.ledger().length === 1, 5_000, 'the customer to pay')
    expect((await mpesa.query('x', res.outcome.refs)).outcome.status).toBe('succeeded')
    expect(w.rx.received.filter((x) => x.path === new URL(r.callbackUrl).pathname)).toHaveLength(0)
    await w.rx.waitFor(1, new URL(r.callbackUrl).pathname, 3_000)
  })

  it('by default many pushes to one phone in a row all succeed (no subscriber lock, no rule 17)', async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => mpesa.initiate(req('0722000111'))))
    expect(results.map((r) => r.outcome.status)).toEqual([
      'pending',
      'pending',
      'pending',
      'pending',
    ])
    await w.rx.waitFor(4)
    expect(w.sb.ledger()).toHaveLength(4)
  })
})

describe('Daraja OAuth tokens', () => {
  it('N pushes share one token request; the same consumer key on another branch shares it too', async () => {
    const other = createAdapter('mpesa', config({ settings: { shortcode: '174379' } }), w.deps)
    for (let i = 0; i < 3; i++) await mpesa.initiate(req('0712345678'))
    await other.initiate(req('0712345678'))
    expect(tokenRequests()).toBe(1)
    expect(pushes()).toHaveLength(4)
  })

  it('concurrent first calls fetch one token', async () => {
    await Promise.all([1, 2, 3, 4, 5].map(() => mpesa.initiate(req('0712345678'))))
    expect(tokenRequests()).toBe(1)
  })

  it('after expire-tokens the adapter refreshes once and the call succeeds', async () => {
    await mpesa.initiate(req('0712345678'))
    expect(w.sb.expireTokens()).toBe(1)
    const res = await mpesa.initiate(req('0712345678'))
    expect(res.outcome.status).toBe('pending')
    expect(tokenRequests()).toBe(2)
    expect(pushes().map((p) => p.status)).toEqual([200, 404, 200])
    expect((res.log.response as { oauthRetried: boolean }).oauthRetried).toBe(true)
    await mpesa.initiate(req('0712345678'))
    expect(tokenRequests()).toBe(2)
  })

  it('a refused consumer key is not attempted (no charge possible) and testCredentials says rejected', async () => {
    const bad = createAdapter('mpesa', config({ secrets: { consumerKey: 'invalid' } }), w.deps)
    const res = await bad.initiate(req('0712345678'))
    expect(shape(res.outcome)).toEqual({
      status: 'failed',
      kind: 'not_attempted',
      gatewayFault: false,
      cancelled: false,
      code: '400.008.01',
    })
    expect(await bad.testCredentials()).toMatchObject({ ok: false, problem: 'rejected' })
    expect(await mpesa.testCredentials()).toMatchObject({ ok: true })
  })

  it('an unreachable Daraja is not attempted + gateway fault; testCredentials says unreachable', async () => {
    const port = await deadPort()
    const dead = createAdapter(
      'mpesa',
      config({ settings: { baseUrl: `http://127.0.0.1:${port}` } }),
      w.deps,
    )
    const res = await dead.initiate(req('0712345678'))
    expect(shape(res.outcome)).toMatchObject({
      status: 'failed',
      kind: 'not_attempted',
      gatewayFault: true,
      code: 'oauth.transport',
    })
    expect(await dead.testCredentials()).toMatchObject({ ok: false, problem: 'unreachable' })
  })
})

describe('Daraja Password, Timestamp and configuration', () => {
  it('a wrong passkey is refused by the sandbox: Wrong credentials, not attempted, no fault', async () => {
    const bad = createAdapter('mpesa', config({ secrets: { passkey: 'not-the-passkey' } }), w.deps)
    const res = await bad.initiate(req('0712345678'))
    expect(shape(res.outcome)).toEqual({
      status: 'failed',
      kind: 'not_attempted',
      gatewayFault: false,
      cancelled: false,
      code: '500.001.1001/wrong_credentials',
    })
  })

  it('a passkey registered for another shortcode must match', async () => {
    w.sb.registerPasskey('600100', 'my-passkey')
    const good = createAdapter(
      'mpesa',
      config({ settings: { shortcode: '600100' }, secrets: { passkey: 'my-passkey' } }),
      w.deps,
    )
    const bad = createAdapter(
      'mpesa',
      config({ settings: { shortcode: '600100' }, secrets: { passkey: 'other' } }),
      w.deps,
    )
    expect((await good.initiate(req('0712345678'))).outcome.status).toBe('pending')
    expect(shape((await bad.initiate(req('0712345678'))).outcome)).toMatchObject({
      code: '500.001.1001/wrong_credentials',
    })
  })

  it('a timestamp in UTC (3 h off Nairobi) is an Invalid Timestamp', async () => {
    const utcDeps = createGatewayDeps(
      { now: () => new Date(Date.now() - 3 * 3600_000) },
      { readTimeoutMs: 1_000 },
    )
    try {
      const a = createAdapter('mpesa', config(), utcDeps)
      const res = await a.initiate(req('0712345678'))
      expect(shape(res.outcome)).toEqual({
        status: 'failed',
        kind: 'not_attempted',
        gatewayFault: false,
        cancelled: false,
        code: '400.002.02',
      })
      expect(res.outcome.message).toBe('Bad Request - Invalid Timestamp')
    } finally {
      await utcDeps.http.close()
    }
  })

  it('a till sends CustomerBuyGoodsOnline to the till number', async () => {
    const till = createAdapter(
      'mpesa',
      config({ settings: { accountType: 'till', tillNumber: '5123456' } }),
      w.deps,
    )
    const res = await till.initiate(req('0712345678'))
    expect((res.log.request as { body: Record<string, unknown> }).body).toMatchObject({
      TransactionType: 'CustomerBuyGoodsOnline',
      PartyB: '5123456',
    })
    await w.rx.waitFor(1)
    expect((await till.query('x', res.outcome.refs)).outcome.status).toBe('succeeded')
  })

  it('a paybill whose PartyB is not its shortcode gets ResultCode 2028: not attempted, no fault', async () => {
    const wrong = createAdapter('mpesa', config({ settings: { paybillNumber: '999999' } }), w.deps)
    const res = await wrong.initiate(req('0712345678'))
    await w.rx.waitFor(1)
    expect(shape((await wrong.query('x', res.outcome.refs)).outcome)).toMatchObject({
      status: 'failed',
      code: '2028',
      gatewayFault: false,
    })
  })

  it('refuses what M-Pesa cannot take before sending anything', async () => {
    const cents = await dshErrorOf(() =>
      mpesa.initiate(req('0712345678', { amountMinor: 150_050n })),
    )
    expect(cents).toMatchObject({ kind: 'validation', code: 'inexact_amount' })
    expect(cents.message).toBe('M-Pesa takes whole shillings: 1500.50 cannot be sent')
    const ugx = await dshErrorOf(() =>
      mpesa.initiate(req('0712345678', { currency: 'UGX', amountMinor: 5000n })),
    )
    expect(ugx).toMatchObject({ kind: 'validation', code: 'unsupported_currency' })
    expect(await dshErrorOf(() => mpesa.initiate(req('0812345678')))).toMatchObject({
      kind: 'validation',
      code: 'invalid_phone',
    })
    expect(await dshErrorOf(() => mpesa.initiate(req('', { phone: undefined })))).toMatchObject({
      kind: 'validation',
    })
    expect(w.sb.requests()).toEqual([])
  })

  it('a configuration without a shortcode or passkey is a config error (exit 7)', async () => {
    const e = await dshErrorOf(() =>
      createAdapter('mpesa', { settings: { baseUrl: w.sb.url }, secrets: {} }, w.deps),
    )
    expect(e).toMatchObject({ kind: 'config', code: 'gateway_config_missing' })
    expect(e.message).not.toContain('bfb279')
  })
})

describe('C2B', () => {
  it('registers URLs and parses the confirmation the sandbox sends', async () => {
    const reg = await mpesa.registerC2BUrls({
      confirmationUrl: w.rx.url('/c2b/confirm'),
      validationUrl: w.rx.url('/c2b/validate'),
    })
    expect(reg.outcome.status).toBe('succeeded')
    const sim = await fetch(`${w.sb.url}/__control/c2b`, {
      method: 'POST',
      body: JSON.stringify({
        shortcode: '174379',
        amount: 250,
        msisdn: '254712345126',
        billRefNumber: 'TABLE4',
      }),
    })
    expect(sim.status).toBe(200)
    const [c] = await w.rx.waitFor(1, '/c2b/confirm')
    const body = JSON.parse(c!.body)
    for (const v of Object.values(body)) expect(typeof v).toBe('string')
    expect(body).toMatchObject({
      TransAmount: '250.00',
      BusinessShortCode: '174379',
      BillRefNumber: 'TABLE4',
      MSISDN: '2547 ***** 126',
    })
    const parsed = mpesa.parseCallback(body)
    expect(parsed).toMatchObject({
      dedupeKey: `mpesa:${body.TransID}`,
      amountMinor: 25_000n,
      shortcode: '174379',
      currency: 'KES',
    })
    expect(parsed.outcome.status).toBe('succeeded')
  })

  it('an unknown callback shape is a validation error', async () => {
    for (const body of [
      {},
      { Body: {} },
      { foo: 1 },
      null,
      'text',
      { Body: { stkCallback: { ResultCode: 0 } } },
    ])
      expect(await dshErrorOf(() => mpesa.parseCallback(body))).toMatchObject({
        kind: 'validation',
        code: 'unknown_callback',
      })
  })
})
