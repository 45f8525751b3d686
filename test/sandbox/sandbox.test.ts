import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  bankStatement,
  type Charge,
  mpesaStatement,
  SANDBOX_PASSKEY,
  type Sandbox,
  startSandbox,
} from '../../src/sandbox/index.js'
import { dshErrorOf, type Receiver, startReceiver } from '../gateways/helpers.js'
import { waitFor } from '../helpers/wait.js'

let sb: Sandbox
let rx: Receiver

beforeAll(async () => {
  sb = await startSandbox({ callbackDelayMs: 30 })
  rx = await startReceiver()
})
afterAll(async () => {
  await sb.close()
  await rx.close()
})
beforeEach(() => {
  sb.reset()
  rx.received.length = 0
})

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${sb.url}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  })
  const text = await res.text()
  let json: Record<string, unknown> = {}
  try {
    json = JSON.parse(text)
  } catch {}
  return { status: res.status, json, text, headers: res.headers }
}

const basic = (k: string, s: string) => `Basic ${Buffer.from(`${k}:${s}`).toString('base64')}`
async function token(): Promise<string> {
  const r = await call('GET', '/oauth/v1/generate?grant_type=client_credentials', undefined, {
    authorization: basic('k', 's'),
  })
  return r.json['access_token'] as string
}

/** Nairobi time, UTC+3, as Daraja wants it. */
const stamp = (ms = Date.now()) =>
  new Date(ms + 3 * 3600_000).toISOString().replace(/\D/g, '').slice(0, 14)
const password = (shortcode: string, passkey: string, ts: string) =>
  Buffer.from(`${shortcode}${passkey}${ts}`).toString('base64')

function push(over: Record<string, unknown> = {}) {
  const ts = stamp()
  return {
    BusinessShortCode: '174379',
    Password: password('174379', SANDBOX_PASSKEY, ts),
    Timestamp: ts,
    TransactionType: 'CustomerPayBillOnline',
    Amount: 10,
    PartyA: '254712345678',
    PartyB: '174379',
    PhoneNumber: '254712345678',
    CallBackURL: rx.url('/stk'),
    AccountReference: 'ABC123',
    TransactionDesc: 'Lunch',
    ...over,
  }
}

describe('Daraja OAuth', () => {
  it('issues a token with expires_in as the string "3599"', async () => {
    const r = await call('GET', '/oauth/v1/generate?grant_type=client_credentials', undefined, {
      authorization: basic('any', 'thing'),
    })
    expect(r.status).toBe(200)
    expect(r.json).toMatchObject({ access_token: expect.any(String), expires_in: '3599' })
  })

  it('wrong auth type → 400.008.01, wrong grant → 400.008.02', async () => {
    const noBasic = await call(
      'GET',
      '/oauth/v1/generate?grant_type=client_credentials',
      undefined,
      { authorization: 'Bearer x' },
    )
    expect(noBasic).toMatchObject({ status: 400, json: { errorCode: '400.008.01' } })
    expect(noBasic.json['requestId']).toBeTruthy()
    const grant = await call('GET', '/oauth/v1/generate?grant_type=password', undefined, {
      authorization: basic('k', 's'),
    })
    expect(grant).toMatchObject({ status: 400, json: { errorCode: '400.008.02' } })
  })

  it('an unknown or expired token is HTTP 404 404.001.03', async () => {
    const bad = await call('POST', '/mpesa/stkpush/v1/processrequest', push(), {
      authorization: 'Bearer nope',
    })
    expect(bad).toMatchObject({
      status: 404,
      json: { errorCode: '404.001.03', errorMessage: 'Invalid Access Token' },
    })
    const t = await token()
    expect(
      (
        await call('POST', '/mpesa/stkpush/v1/processrequest', push(), {
          authorization: `Bearer ${t}`,
        })
      ).status,
    ).toBe(200)
    expect((await call('POST', '/__control/expire-tokens')).json).toEqual({ expired: 1 })
    expect(
      (
        await call('POST', '/mpesa/stkpush/v1/processrequest', push(), {
          authorization: `Bearer ${t}`,
        })
      ).status,
    ).toBe(404)
  })
})

describe('STK push field rules (GATEWAYS.md §1.2)', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['shortcode with letters', { BusinessShortCode: '17437a' }, 'Invalid BusinessShortCode'],
    ['timestamp format', { Timestamp: '2025-01-01 10:00' }, 'Invalid Timestamp'],
    [
      'timestamp 3 h off (UTC)',
      { Timestamp: stamp(Date.now() - 3 * 3600_000) },
      'Invalid Timestamp',
    ],
    ['impossible date', { Timestamp: '20250231120000' }, 'Invalid Timestamp'],
    ['transaction type', { TransactionType: 'CustomerPay' }, 'Invalid TransactionType'],
    ['amount with cents', { Amount: 10.5 }, 'Invalid Amount'],
    ['amount zero', { Amount: 0 }, 'Invalid Amount'],
    ['amount over 250,000', { Amount: 250_001 }, 'Invalid Amount'],
    ['PartyA 07…', { PartyA: '0712345678' }, 'Invalid PartyA'],
    ['PhoneNumber 2548…', { PhoneNumber: '254812345678' }, 'Invalid PhoneNumber'],
    ['PartyB', { PartyB: 'till' }, 'Invalid PartyB'],
    ['plain http callback', { CallBackURL: 'http://example.com/cb' }, 'Invalid CallBackURL'],
    ['AccountReference over 12', { AccountReference: 'ABCDEFGHIJKLM' }, 'Invalid AccountReference'],
    ['AccountReference with a dash', { AccountReference: 'ORDER-1' }, 'Invalid AccountReference'],
    ['TransactionDesc over 13', { TransactionDesc: 'Fourteen chars' }, 'Invalid TransactionDesc'],
  ]
  for (const [what, over, message] of cases) {
    it(`${what} → 400.002.02 ${message}`, async () => {
      const t = await token()
      const ts = typeof over['Timestamp'] === 'string' ? (over['Timestamp'] as string) : undefined
      const body = push(over)
      if (ts) body.Password = password('174379', SANDBOX_PASSKEY, ts)
      const r = await call('POST', '/mpesa/stkpush/v1/processrequest', body, {
        authorization: `Bearer ${t}`,
      })
      expect(r).toMatchObject({
        status: 400,
        json: { errorCode: '400.002.02', errorMessage: `Bad Request - ${message}` },
      })
      expect(Object.keys(r.json).sort()).toEqual(['errorCode', 'errorMessage', 'requestId'])
    })
  }

  it('https and loopback callbacks are fine; TransactionDesc is optional', async () => {
    const t = await token()
    for (const over of [
      { CallBackURL: 'https://dsh.example/callbacks/mpesa/tok' },
      { TransactionDesc: undefined },
      { Amount: '10' },
    ]) {
      const r = await call('POST', '/mpesa/stkpush/v1/processrequest', push(over), {
        authorization: `Bearer ${t}`,
      })
      expect(r.status).toBe(200)
      expect(r.json).toMatchObject({
        ResponseCode: '0',
        CheckoutRequestID: expect.stringMatching(/^ws_CO_/),
      })
    }
  })

  it('without a JSON content type Daraja blames the shortcode (FAQ 9)', async () => {
    const t = await token()
    const r = await call('POST', '/mpesa/stkpush/v1/processrequest', undefined, {
      authorization: `Bearer ${t}`,
    })
    expect(r.json).toMatchObject({
      errorCode: '400.002.02',
      errorMessage: 'Bad Request - Invalid BusinessShortCode',
    })
  })

  it('a Password from another passkey or timestamp is "Wrong credentials"', async () => {
    const t = await token()
    const ts = stamp()
    for (const pw of [
      password('174379', 'wrong', ts),
      password('174379', SANDBOX_PASSKEY, stamp(Date.now() - 60_000)),
    ]) {
      const r = await call(
        'POST',
        '/mpesa/stkpush/v1/processrequest',
        push({ Timestamp: ts, Password: pw }),
        { authorization: `Bearer ${t}` },
      )
      expect(r).toMatchObject({
        status: 500,
        json: { errorCode: '500.001.1001', errorMessage: 'Wrong credentials' },
      })
    }
  })

  it('STK Query: being processed, then the result as strings; an unknown id is a 400', async () => {
    const slow = await startSandbox({ callbackDelayMs: 150 })
    try {
      const t = (await (
        await fetch(`${slow.url}/oauth/v1/generate?grant_type=client_credentials`, {
          headers: { authorization: basic('k', 's') },
        })
      ).json()) as { access_token: string }
      const post = (path: string, body: unknown) =>
        fetch(`${slow.url}${path}`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${t.access_token}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify(body),
        })
      const accepted = (await (
        await post(
          '/mpesa/stkpush/v1/processrequest',
          push({ PhoneNumber: '254700001032', PartyA: '254700001032' }),
        )
      ).json()) as { CheckoutRequestID: string }
      const ts = stamp()
      const q = {
        BusinessShortCode: '174379',
        Password: password('174379', SANDBOX_PASSKEY, ts),
        Timestamp: ts,
        CheckoutRequestID: accepted.CheckoutRequestID,
      }
      const early = await post('/mpesa/stkpushquery/v1/query', q)
      expect(early.status).toBe(500)
      expect(await early.json()).toMatchObject({
        errorCode: '500.001.1001',
        errorMessage: 'The transaction is being processed',
      })
      // Asked again until the customer's answer is in (the query is the state).
      const late = await waitFor(
        async () => {
          const j = (await (await post('/mpesa/stkpushquery/v1/query', q)).json()) as {
            ResultCode?: string
          }
          return j.ResultCode !== undefined ? j : undefined
        },
        5_000,
        'the customer to answer',
      )
      expect(late).toMatchObject({
        ResponseCode: '0',
        ResultCode: '1032',
        ResultDesc: 'Request cancelled by user',
        CheckoutRequestID: accepted.CheckoutRequestID,
      })
      const unknown = await post('/mpesa/stkpushquery/v1/query', {
        ...q,
        CheckoutRequestID: 'ws_CO_nope',
      })
      expect(unknown.status).toBe(400)
      expect(await unknown.json()).toMatchObject({ errorCode: '400.002.02' })
    } finally {
      await slow.close()
    }
  })
})

describe('C2B', () => {
  it('register refuses wrong case and banned words; simulate sends the all-strings confirmation', async () => {
    const t = await token()
    const auth = { authorization: `Bearer ${t}` }
    const reg = (over: Record<string, unknown>) =>
      call(
        'POST',
        '/mpesa/c2b/v2/registerurl',
        {
          ShortCode: '600999',
          ResponseType: 'Completed',
          ConfirmationURL: rx.url('/c2b/confirm'),
          ValidationURL: rx.url('/c2b/validate'),
          ...over,
        },
        auth,
      )
    expect((await reg({ ResponseType: 'completed' })).json).toMatchObject({
      errorMessage: 'Bad Request - Invalid ResponseType',
    })
    expect((await reg({ ConfirmationURL: rx.url('/mpesa/query') })).json).toMatchObject({
      errorMessage: 'Bad Request - Invalid ConfirmationURL',
    })
    expect((await reg({})).json).toMatchObject({
      ResponseCode: '0',
      OriginatorCoversationID: expect.any(String),
    })
    const sim = await call(
      'POST',
      '/mpesa/c2b/v1/simulate',
      {
        ShortCode: '600999',
        CommandID: 'CustomerBuyGoodsOnline',
        Amount: 10,
        Msisdn: '254708374149',
        BillRefNumber: 'INV7',
      },
      auth,
    )
    expect(sim.json).toMatchObject({ ResponseCode: '0' })
    const [c] = await rx.waitFor(1, '/c2b/confirm')
    const body = JSON.parse(c!.body)
    expect(Object.keys(body).sort()).toEqual(
      [
        'BillRefNumber',
        'BusinessShortCode',
        'FirstName',
        'InvoiceNumber',
        'LastName',
        'MSISDN',
        'MiddleName',
        'OrgAccountBalance',
        'ThirdPartyTransID',
        'TransAmount',
        'TransID',
        'TransTime',
        'TransactionType',
      ].sort(),
    )
    expect(body).toMatchObject({
      TransactionType: 'Buy Goods',
      TransAmount: '10.00',
      MSISDN: '2547 ***** 149',
      BillRefNumber: 'INV7',
    })
    expect(body.TransTime).toMatch(/^\d{14}$/)
    expect(sb.ledger()).toMatchObject([
      { gateway: 'mpesa', reference: body.TransID, amount: '10', attemptRef: 'INV7' },
    ])
  })
})

describe('other simulators, raw', () => {
  it('KCB without X-Authorization is 401; Stripe without an sk_ key is 401 in Stripe’s shape', async () => {
    expect((await call('POST', '/api/v1/payments/initiate_kcb_stk_push', {})).status).toBe(401)
    const s = await call('POST', '/v1/payment_intents', 'amount=100&currency=usd', {
      authorization: 'Bearer pk_test',
      'content-type': 'application/x-www-form-urlencoded',
    })
    expect(s.status).toBe(401)
    expect(s.json).toMatchObject({ error: { type: 'invalid_request_error' } })
  })

  it('Stripe wants a lower-case currency and an amount', async () => {
    const h = {
      authorization: 'Bearer sk_test',
      'content-type': 'application/x-www-form-urlencoded',
    }
    expect((await call('POST', '/v1/payment_intents', 'amount=100&currency=USD', h)).status).toBe(
      400,
    )
    expect((await call('POST', '/v1/payment_intents', 'currency=usd', h)).json).toMatchObject({
      error: { code: 'parameter_missing', param: 'amount' },
    })
  })

  it('Square refuses an idempotency_key over 45 characters', async () => {
    const r = await call(
      'POST',
      '/v2/payments',
      {
        idempotency_key: 'k'.repeat(46),
        source_id: 'CASH',
        amount_money: { amount: 1, currency: 'KES' },
        cash_details: {},
      },
      { authorization: 'Bearer t' },
    )
    expect(r).toMatchObject({ status: 400, json: { errors: [{ code: 'VALUE_TOO_LONG' }] } })
  })

  it('the bank API requires an Idempotency-Key', async () => {
    const r = await call(
      'POST',
      '/bank/v1/transfers',
      {
        reference: 'S-1',
        amount: '100',
        currency: 'KES',
        accountNumber: '12345678',
        bankCode: '01',
        narrative: 'x',
      },
      { authorization: 'Bearer k' },
    )
    expect(r).toMatchObject({ status: 400, json: { error: { code: 'invalid_request' } } })
  })
})

describe('control endpoints', () => {
  it('script validates gateway, outcome and count; scripts apply in order and run out', async () => {
    expect(
      (await call('POST', '/__control/script', { gateway: 'paypal', outcome: 'success' })).status,
    ).toBe(400)
    expect(
      (await call('POST', '/__control/script', { gateway: 'stripe', outcome: 'wrong_pin' })).json,
    ).toMatchObject({ error: expect.stringContaining('does not apply') })
    expect(
      (await call('POST', '/__control/script', { gateway: 'mpesa', outcome: 'http_503', count: 0 }))
        .status,
    ).toBe(400)
    expect(
      (await call('POST', '/__control/script', { gateway: 'mpesa', outcome: 'http_503', count: 2 }))
        .status,
    ).toBe(200)
    const t = await token()
    const statuses = []
    for (let i = 0; i < 3; i++)
      statuses.push(
        (
          await call('POST', '/mpesa/stkpush/v1/processrequest', push(), {
            authorization: `Bearer ${t}`,
          })
        ).status,
      )
    expect(statuses).toEqual([503, 503, 200])
    expect(
      await dshErrorOf(() => sb.script({ gateway: 'bank', outcome: 'cancelled' })),
    ).toMatchObject({ kind: 'validation' })
  })

  it('ledger, deliveries, requests, webhooks, magic and reset', async () => {
    expect(
      (
        await call('POST', '/__control/webhooks', {
          gateway: 'stripe',
          url: rx.url('/wh'),
          secret: 'whsec_x',
        })
      ).status,
    ).toBe(200)
    expect(
      (
        await call('POST', '/__control/webhooks', {
          gateway: 'mpesa',
          url: rx.url('/wh'),
          secret: 'x',
        })
      ).status,
    ).toBe(400)
    const h = {
      authorization: 'Bearer sk_test',
      'content-type': 'application/x-www-form-urlencoded',
    }
    await call(
      'POST',
      '/v1/payment_intents',
      'amount=100&currency=usd&payment_method=pm_card_visa&confirm=true',
      h,
    )
    await rx.waitFor(1, '/wh')
    expect((await call('GET', '/__control/ledger')).json).toMatchObject([
      { gateway: 'stripe', amount: '100', currency: 'usd' },
    ])
    const deliveries = (await call('GET', '/__control/deliveries')).json as unknown as {
      url: string
      status: number
      headers: Record<string, string>
    }[]
    expect(deliveries).toMatchObject([{ url: rx.url('/wh'), status: 200 }])
    expect(deliveries[0]!.headers['stripe-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/)
    expect(
      ((await call('GET', '/__control/requests')).json as unknown as unknown[]).length,
    ).toBeGreaterThan(0)
    const magic = (await call('GET', '/__control/magic')).json as unknown as {
      phones: Record<string, { outcome: string; what: string }>
      pushFailures: {
        notAttempted: { connectionRefused: string; phones: string[] }
        unknown: { phones: string[] }
      }
    }
    expect(magic).toMatchObject({ phones: { '254700001032': { outcome: 'cancelled' } } })
    // The answer is lost but the push reached the phone: named for what happens, never "nothing charged".
    expect(magic.phones['254700009505']?.outcome).toBe('reset_after_charge')
    expect(magic.phones['254700000504']?.outcome).toBe('http_504_charged')
    for (const phone of [
      '254700009504',
      '254700009505',
      '254700009506',
      '254700000500',
      '254700000502',
      '254700000503',
      '254700000504',
    ]) {
      const what = magic.phones[phone]!.what
      expect(what).toMatch(/reset|50[0234]/)
      expect(what).not.toMatch(/nothing charged/i)
      expect(what).toContain('unknown')
      expect(magic.pushFailures.unknown.phones).toContain(phone)
    }
    // Failover stays demonstrable: a closed port, and 5xx carrying the gateway's own error body.
    expect(magic.pushFailures.notAttempted.connectionRefused).toMatch(/connection refused/)
    for (const phone of ['254700009500', '254700009503']) {
      expect(magic.phones[phone]!.what).toMatch(/own error body.*not attempted, so dsh fails over/)
      expect(magic.pushFailures.notAttempted.phones).toContain(phone)
    }
    await call('POST', '/__control/reset')
    expect(sb.ledger()).toEqual([])
    expect(sb.deliveries()).toEqual([])
  })

  it('an unknown route is a 404, a known path with the wrong method a 405', async () => {
    expect((await call('GET', '/nope')).status).toBe(404)
    expect((await call('GET', '/mpesa/stkpush/v1/processrequest')).status).toBe(405)
  })

  it('binds loopback only', async () => {
    expect(await dshErrorOf(() => startSandbox({ host: '0.0.0.0' }))).toMatchObject({
      kind: 'validation',
      code: 'sandbox_not_loopback',
    })
  })

  it('close() returns promptly even while an answer is withheld', async () => {
    const other = await startSandbox({ callbackDelayMs: 10 })
    other.script({ gateway: 'bank', outcome: 'slow_success' })
    const pending = fetch(`${other.url}/bank/v1/transfers`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer k',
        'idempotency-key': 'k1',
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        reference: 'S-1',
        amount: '100',
        currency: 'KES',
        accountNumber: '12345678',
        bankCode: '01',
        narrative: 'x',
      }),
    }).catch((e: unknown) => e)
    await waitFor(() => other.pending() === 1, 5_000, 'the answer to be withheld')
    const started = Date.now()
    await other.close()
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(await pending).toBeInstanceOf(Error)
  })
})

describe('an injected clock, and statements built from the ledger', () => {
  const NOW = Date.parse('2026-11-03T06:15:00Z') // 09:15:00 in Nairobi
  let t = NOW
  let clocked: Sandbox
  beforeAll(async () => {
    clocked = await startSandbox({ callbackDelayMs: 5, clock: { now: () => new Date(t) } })
  })
  afterAll(async () => {
    await clocked.close()
  })
  const post = async (path: string, body: unknown, headers: Record<string, string>) => {
    const res = await fetch(`${clocked.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })
    return { status: res.status, json: (await res.json()) as Record<string, unknown> }
  }

  it('checks and stamps times on its clock: a push stamped with the real time is refused', async () => {
    const tok = (await (
      await fetch(`${clocked.url}/oauth/v1/generate?grant_type=client_credentials`, {
        headers: { authorization: basic('k', 's') },
      })
    ).json()) as { access_token: string }
    const auth = { authorization: `Bearer ${tok.access_token}` }
    const real = await post('/mpesa/stkpushquery/v1/query', { BusinessShortCode: '174379' }, auth)
    expect(real.status).toBe(400)
    const wall = stamp()
    const refused = await post(
      '/mpesa/stkpush/v1/processrequest',
      push({ Timestamp: wall, Password: password('174379', SANDBOX_PASSKEY, wall) }),
      auth,
    )
    expect(refused).toMatchObject({ status: 400, json: { errorCode: '400.002.02' } })
    const ts = stamp(NOW)
    const ok = await post(
      '/mpesa/stkpush/v1/processrequest',
      push({ Timestamp: ts, Password: password('174379', SANDBOX_PASSKEY, ts), Amount: 1500 }),
      auth,
    )
    expect(ok.status).toBe(200)
    const sent = await post(
      '/bank/v1/transfers',
      {
        reference: 'SETTLEMENT-AB12CD34EF',
        amount: '98550',
        currency: 'KES',
        accountNumber: '1100200301',
        bankCode: '01',
        narrative: 'SETTLEMENT-AB12CD34EF westlands mpesa settlement',
      },
      { authorization: 'Bearer key1', 'idempotency-key': 'stb_1' },
    )
    expect(sent.status).toBe(201)
    await waitFor(() => clocked.ledger().length >= 2, 5_000, 'both charges')
    const [mpesa, bank] = clocked.ledger() as [Charge, Charge]
    expect(mpesa).toMatchObject({
      gateway: 'mpesa',
      account: '174379',
      attemptRef: 'ABC123',
      amount: '1500',
      phone: '254712345678',
      at: '2026-11-03T06:15:00.000Z',
    })
    expect(bank).toMatchObject({
      gateway: 'bank',
      account: '1100200301',
      attemptRef: 'stb_1',
      payeeReference: 'SETTLEMENT-AB12CD34EF',
      narrative: 'SETTLEMENT-AB12CD34EF westlands mpesa settlement',
      amount: '98550',
      at: '2026-11-03T06:15:00.000Z',
    })
    // A minute later a customer cancels: no money, a failure the statement lists.
    t = NOW + 60_000
    const ts2 = stamp(t)
    const cancel = await post(
      '/mpesa/stkpush/v1/processrequest',
      push({
        Timestamp: ts2,
        Password: password('174379', SANDBOX_PASSKEY, ts2),
        Amount: 450,
        PartyA: '254700001032',
        PhoneNumber: '254700001032',
        AccountReference: 'XYZ9',
      }),
      auth,
    )
    expect(cancel.status).toBe(200)
    await waitFor(() => clocked.failures().length >= 1, 5_000, 'the cancellation')
    expect(clocked.ledger()).toHaveLength(2)
    expect(clocked.failures()).toMatchObject([
      {
        gateway: 'mpesa',
        account: '174379',
        attemptRef: 'XYZ9',
        amount: '450',
        resultCode: 1032,
        resultDesc: 'Request cancelled by user',
        at: '2026-11-03T06:16:00.000Z',
      },
    ])
  })

  it('GET /__control/statements/mpesa and /bank: the CSV of the money that moved', async () => {
    const [mpesa, bank] = clocked.ledger() as [Charge, Charge]
    const get = async (q: string) => {
      const res = await fetch(`${clocked.url}/__control/statements/${q}`)
      // Bytes as sent: res.text() would drop the BOM.
      const text = Buffer.from(await res.arrayBuffer()).toString('utf8')
      return { status: res.status, type: res.headers.get('content-type'), text }
    }
    const m = await get('mpesa?shortcode=174379&from=2026-11-01&to=2026-11-03')
    expect(m.status).toBe(200)
    expect(m.type).toBe('text/csv; charset=utf-8')
    expect(m.text).toBe(
      [
        '\ufeffOrganisation Name:,SANDBOX BUSINESS',
        'Organisation Short Code:,174379',
        'Time Period: From 01-11-2026 To 03-11-2026',
        '',
        'Receipt No.,Completion Time,Initiation Time,Details,Transaction Status,Paid In,Withdrawn,Balance,Balance Confirmed,Reason Type,Other Party Info,Linked Transaction ID,A/C No.',
        `${clocked.failures()[0]?.receipt},03-11-2026 09:16:00,03-11-2026 09:16:00,Pay Bill Online,Failed,"450.00",,"1,500.00",true,Pay Bill Online,254700***032 - CUSTOMER,,XYZ9`,
        `${mpesa.receipt},03-11-2026 09:15:00,03-11-2026 09:15:00,Pay Bill Online,Completed,"1,500.00",,"1,500.00",true,Pay Bill Online,254712***678 - CUSTOMER,,ABC123`,
        '',
      ].join('\r\n'),
    )
    // Another shortcode, or a period without the charge: no rows.
    expect((await get('mpesa?shortcode=600101&from=2026-11-01&to=2026-11-03')).text).not.toContain(
      'Completed',
    )
    expect((await get('mpesa?shortcode=174379&from=2026-11-04&to=2026-11-30')).text).not.toContain(
      'Completed',
    )
    const b = await get('bank?account=1100200301&from=2026-11-03&to=2026-11-03')
    expect(b.text).toBe(
      'Date,Value Date,Description,Reference,Debit,Credit,Balance\n' +
        '2026-11-03 09:15:00,2026-11-03,SETTLEMENT-AB12CD34EF westlands mpesa settlement,SETTLEMENT-AB12CD34EF,,985.50,985.50\n',
    )
    expect(bank.reference).toMatch(/^trf_/)
    expect(await get('bank?from=2026-11-03&to=2026-11-03')).toMatchObject({
      status: 400,
      text: JSON.stringify({ error: 'account is required' }),
    })
    expect((await get('mpesa?shortcode=174379&from=2026-11-31&to=2026-12-01')).text).toBe(
      JSON.stringify({ error: 'from: 2026-11-31 is not a real day' }),
    )
  })

  it('the bank’s habits: a credit booked late, one short of a charge, a charge on its own line', () => {
    const [, bank] = clocked.ledger() as [Charge, Charge]
    const csv = bankStatement(clocked.ledger(), {
      account: '1100200301',
      from: '2026-11-01',
      to: '2026-11-30',
      openingBalanceMinor: 100_000n,
      bookings: {
        [bank.reference]: {
          bookedAt: '2026-11-05T07:00:00Z',
          deductedMinor: 5000n,
          chargeMinor: 3000n,
        },
      },
      extra: [
        {
          at: '2026-11-04T07:00:00Z',
          description: 'Rent, November',
          reference: 'SO-1',
          amountMinor: -20_000n,
        },
      ],
    })
    expect(csv).toBe(
      [
        'Date,Value Date,Description,Reference,Debit,Credit,Balance',
        '2026-11-04 10:00:00,2026-11-04,"Rent, November",SO-1,200.00,,800.00',
        '2026-11-05 10:00:00,2026-11-05,SETTLEMENT-AB12CD34EF westlands mpesa settlement,SETTLEMENT-AB12CD34EF,,935.50,"1,735.50"',
        `2026-11-05 10:00:00,2026-11-05,Charges SETTLEMENT-AB12CD34EF,${bank.reference},30.00,,"1,705.50"`,
        '',
      ].join('\n'),
    )
    const failed = mpesaStatement([], {
      shortcode: '174379',
      from: '2026-11-01',
      to: '2026-11-30',
      extra: [
        {
          receipt: 'QFX0000001',
          at: '2026-11-02T09:00:00Z',
          amount: '450',
          phone: '254700001032',
          status: 'Failed',
        },
      ],
    })
    expect(failed).toContain(
      'QFX0000001,02-11-2026 12:00:00,02-11-2026 12:00:00,Pay Bill Online,Failed,"450.00",,"0.00",true',
    )
  })
})
