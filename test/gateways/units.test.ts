import { describe, expect, it } from 'vitest'
import { transactionDesc } from '../../src/gateways/daraja/account-ref.js'
import { toTransportError } from '../../src/gateways/http.js'
import {
  accountReferenceFor,
  CODE_TABLES,
  createAdapter,
  createTokenCache,
  explainCode,
  fromStripeAmount,
  matchesAccountReference,
  mpesaWholeShillings,
  nairobiTimestamp,
  normalisePhone,
  parseStkCallback,
  toSquareAmount,
  toStripeAmount,
} from '../../src/gateways/index.js'
import { dshErrorOf, SANDBOX_MPESA } from './helpers.js'

describe('normalisePhone', () => {
  const ok: [string, string][] = [
    ['0712345678', '254712345678'],
    ['0712 345 678', '254712345678'],
    ['0712-345-678', '254712345678'],
    ['(0712) 345.678', '254712345678'],
    ['+254712345678', '254712345678'],
    ['+254 712 345 678', '254712345678'],
    ['254712345678', '254712345678'],
    ['0110123456', '254110123456'],
    ['+254110123456', '254110123456'],
    ['  254110123456  ', '254110123456'],
  ]
  for (const [input, want] of ok)
    it(`${JSON.stringify(input)} → ${want}`, () => expect(normalisePhone(input)).toBe(want))

  const bad = [
    '',
    '0812345678',
    '071234567',
    '07123456789',
    '+255712345678',
    '25471234567',
    '0712a45678',
    '+0712345678',
    // Without the leading 0 or the country code it is ambiguous: refused, as the issue asks.
    '712345678',
    '2540712345678',
    'phone',
  ]
  for (const input of bad) {
    it(`refuses ${JSON.stringify(input)}`, async () => {
      expect(await dshErrorOf(() => normalisePhone(input))).toMatchObject({
        kind: 'validation',
        code: 'invalid_phone',
      })
    })
  }
})

describe('amounts', () => {
  it('M-Pesa takes whole KES only', async () => {
    expect(mpesaWholeShillings(150_000n, 'KES')).toBe(1500n)
    expect(mpesaWholeShillings(100n, 'kes')).toBe(1n)
    expect((await dshErrorOf(() => mpesaWholeShillings(150_050n, 'KES'))).message).toBe(
      'M-Pesa takes whole shillings: 1500.50 cannot be sent',
    )
    expect(await dshErrorOf(() => mpesaWholeShillings(0n, 'KES'))).toMatchObject({
      code: 'amount_too_small',
    })
    expect(await dshErrorOf(() => mpesaWholeShillings(500n, 'UGX'))).toMatchObject({
      code: 'unsupported_currency',
    })
    expect(await dshErrorOf(() => mpesaWholeShillings(500n, 'XXX'))).toMatchObject({
      code: 'unknown_currency',
    })
  })

  it('Stripe: two-decimal, zero-decimal and the UGX ×100 rule, both ways', async () => {
    const cases: [bigint, string, bigint, string][] = [
      [1_250n, 'USD', 1_250n, 'usd'],
      [150_050n, 'KES', 150_050n, 'kes'],
      [5n, 'UGX', 500n, 'ugx'],
      [5_000n, 'UGX', 500_000n, 'ugx'],
      [3_000n, 'RWF', 3_000n, 'rwf'],
      [700n, 'BIF', 700n, 'bif'],
      [99n, 'TZS', 99n, 'tzs'],
    ]
    for (const [minor, ccy, amount, lower] of cases) {
      expect(toStripeAmount(minor, ccy)).toEqual({ amount, currency: lower })
      expect(fromStripeAmount(amount, lower)).toBe(minor)
    }
    expect(await dshErrorOf(() => fromStripeAmount(550n, 'ugx'))).toMatchObject({
      code: 'inexact_amount',
    })
    expect(await dshErrorOf(() => toStripeAmount(100_000_000n, 'USD'))).toMatchObject({
      code: 'amount_too_large',
    })
    expect(await dshErrorOf(() => toStripeAmount(-1n, 'USD'))).toMatchObject({
      code: 'amount_too_small',
    })
  })

  it('Square: the ISO smallest unit, in the location currency when known', async () => {
    expect(toSquareAmount(150_000n, 'KES')).toEqual({ amount: 150_000n, currency: 'KES' })
    expect(toSquareAmount(5_000n, 'UGX', 'UGX')).toEqual({ amount: 5_000n, currency: 'UGX' })
    expect(await dshErrorOf(() => toSquareAmount(100n, 'KES', 'USD'))).toMatchObject({
      code: 'unsupported_currency',
    })
  })
})

describe('Daraja helpers', () => {
  it('AccountReference: 12 alphanumerics, stable, distinct, matchable', () => {
    const refs = new Set<string>()
    for (let i = 0; i < 2_000; i++) {
      const r = accountReferenceFor(`att_01JD${i}`)
      expect(r).toMatch(/^[A-Z2-7]{12}$/)
      refs.add(r)
    }
    expect(refs.size).toBe(2_000)
    expect(accountReferenceFor('att_x')).toBe(accountReferenceFor('att_x'))
    expect(matchesAccountReference(accountReferenceFor('att_x').toLowerCase(), 'att_x')).toBe(true)
    expect(matchesAccountReference(accountReferenceFor('att_x'), 'att_y')).toBe(false)
  })

  it('TransactionDesc: at most 13 plain characters, never empty', () => {
    expect(transactionDesc('Table 4 lunch & drinks')).toBe('Table 4 lunch')
    expect(transactionDesc('***')).toBe('Payment')
    expect(transactionDesc('Order #12')).toBe('Order 12')
  })

  it('Nairobi timestamps are UTC+3 from one reading', () => {
    expect(nairobiTimestamp(new Date('2025-01-31T21:30:05Z'))).toBe('20250201003005')
    expect(nairobiTimestamp(new Date('2024-12-31T20:59:59Z'))).toBe('20241231235959')
  })

  it('STK callback items are found by name, values become strings, missing values are allowed', () => {
    const cb = parseStkCallback({
      Body: {
        stkCallback: {
          MerchantRequestID: 'm1',
          CheckoutRequestID: 'ws_CO_1',
          ResultCode: 0,
          ResultDesc: 'ok',
          CallbackMetadata: {
            Item: [
              { Name: 'PhoneNumber', Value: 254712345678 },
              { Name: 'Balance' },
              { Name: 'TransactionDate', Value: 20191219102115 },
              { Name: 'MpesaReceiptNumber', Value: 'NLJ7RT61SV' },
              { Name: 'Amount', Value: 1.5 },
            ],
          },
        },
      },
    })
    expect(cb).toEqual({
      merchantRequestId: 'm1',
      checkoutRequestId: 'ws_CO_1',
      resultCode: '0',
      resultDesc: 'ok',
      amount: '1.5',
      receiptNumber: 'NLJ7RT61SV',
      transactionDate: '20191219102115',
      phoneNumber: '254712345678',
      balance: undefined,
    })
  })
})

describe('classification tables', () => {
  it('every failed row says what it means for the money; unknown codes are unknown', () => {
    for (const [gateway, table] of Object.entries(CODE_TABLES)) {
      for (const [code, rule] of Object.entries(table)) {
        expect(rule.message, `${gateway} ${code}`).toBeTruthy()
        if (rule.status === 'failed') expect(rule.kind, `${gateway} ${code}`).toBeDefined()
        // Customer outcomes never count against the breaker.
        if (rule.kind === 'declined') expect(rule.gatewayFault, `${gateway} ${code}`).toBe(false)
        // A read timeout may have charged: never not_attempted.
        if (code === 'transport.read_timeout') expect(rule.kind).toBe('unknown')
      }
    }
    expect(CODE_TABLES.mpesa['1037']).toMatchObject({ kind: 'declined', gatewayFault: false })
    expect(CODE_TABLES.mpesa['1032']).toMatchObject({ kind: 'declined', cancelled: true })
    // PRODUCT.md, three outcomes: only what cannot have reached the phone is not_attempted.
    for (const gateway of ['mpesa', 'mpesa-kcb'] as const) {
      for (const code of ['transport.reset', 'http.500', 'http.502', 'http.503', 'http.504'])
        expect(CODE_TABLES[gateway][code], `${gateway} ${code}`).toMatchObject({
          kind: 'unknown',
          gatewayFault: true,
        })
      for (const code of ['transport.connect_refused', 'transport.dns', 'http.429'])
        expect(CODE_TABLES[gateway][code], `${gateway} ${code}`).toMatchObject({
          kind: 'not_attempted',
          gatewayFault: true,
        })
    }
    // A 5xx carrying the gateway's own error body: not processed, safe to fail over.
    for (const [gateway, code] of [
      ['mpesa', '500.003.1001'],
      ['mpesa', '500.003.02'],
      ['mpesa-kcb', 'INTERNAL_ERROR'],
      ['mpesa-kcb', 'SERVICE_UNAVAILABLE'],
    ] as const)
      expect(CODE_TABLES[gateway][code], `${gateway} ${code}`).toMatchObject({
        kind: 'not_attempted',
        gatewayFault: true,
      })
    // No OAuth token: the push itself was never sent.
    expect(CODE_TABLES.mpesa['oauth.http.503']?.kind).toBe('not_attempted')
    expect(CODE_TABLES.stripe['http.503']).toMatchObject({ kind: 'unknown', gatewayFault: true })
    expect(CODE_TABLES.stripe['transport.reset']?.kind).toBe('unknown')
  })

  it('explainCode finds rows by code, including the 500.001.1001 message variants', () => {
    expect(explainCode('1032').map((r) => r.gateway)).toEqual(['mpesa', 'mpesa-kcb'])
    expect(explainCode('500.001.1001').map((r) => r.code)).toEqual([
      '500.001.1001/being_processed',
      '500.001.1001/subscriber_locked',
      '500.001.1001/wrong_credentials',
      '500.001.1001/merchant_not_found',
    ])
    expect(explainCode('no-such-code')).toEqual([])
  })
})

describe('transport errors', () => {
  it('maps undici and system codes to what they mean', () => {
    const e = (code: string) => Object.assign(new Error('x'), { code })
    expect(toTransportError(e('ECONNREFUSED')).code).toBe('connect_refused')
    expect(toTransportError(e('ENOTFOUND')).code).toBe('dns')
    expect(toTransportError(e('UND_ERR_CONNECT_TIMEOUT')).code).toBe('connect_timeout')
    expect(toTransportError(e('UND_ERR_HEADERS_TIMEOUT')).code).toBe('read_timeout')
    expect(toTransportError(e('UND_ERR_SOCKET')).code).toBe('reset')
    expect(toTransportError(new AggregateError([e('ECONNREFUSED')])).code).toBe('connect_refused')
    expect(toTransportError(Object.assign(new Error('y'), { cause: e('ECONNRESET') })).code).toBe(
      'reset',
    )
    expect(toTransportError(new Error('weird')).code).toBe('other')
  })
})

describe('token cache', () => {
  it('one fetch in flight, cached until a minute before expiry, invalidated by token', async () => {
    let now = 1_000_000
    const cache = createTokenCache({ now: () => new Date(now) })
    let fetches = 0
    const fetch = async () => {
      fetches++
      // timer(gateway-delay): a slow token endpoint, so the concurrent callers overlap
      await new Promise((r) => setTimeout(r, 5))
      return { token: `t${fetches}`, expiresInS: 3599 }
    }
    const got = await Promise.all([1, 2, 3].map(() => cache.get('https://x/', 'key', fetch)))
    expect(got).toEqual(['t1', 't1', 't1'])
    expect(await cache.get('https://x', 'key', fetch)).toBe('t1') // trailing slash: same key
    expect(await cache.get('https://x', 'other-key', fetch)).toBe('t2')
    now += 3_540_000 // 59 min: inside the refresh margin
    expect(await cache.get('https://x', 'key', fetch)).toBe('t3')
    cache.invalidate('https://x', 'key', 't1') // stale: ignored
    expect(await cache.get('https://x', 'key', fetch)).toBe('t3')
    cache.invalidate('https://x', 'key', 't3')
    expect(await cache.get('https://x', 'key', fetch)).toBe('t4')
    expect(await cache.get('https://x', 'key', fetch, { force: true })).toBe('t5')
  })

  it('a failed fetch is not cached', async () => {
    const cache = createTokenCache({ now: () => new Date() })
    await expect(cache.get('u', 'k', () => Promise.reject(new Error('down')))).rejects.toThrow(
      'down',
    )
    expect(await cache.get('u', 'k', async () => ({ token: 'ok', expiresInS: 10 }))).toBe('ok')
  })
})

describe('createAdapter', () => {
  const deps = {
    http: { request: () => Promise.reject(new Error('unused')), close: async () => {} },
    tokens: createTokenCache({ now: () => new Date() }),
    clock: { now: () => new Date() },
  }

  it('cash has no adapter; missing configuration is a config error that names the flag', async () => {
    expect(
      await dshErrorOf(() => createAdapter('cash', { settings: {}, secrets: {} }, deps)),
    ).toMatchObject({ kind: 'config' })
    const e = await dshErrorOf(() =>
      createAdapter(
        'mpesa',
        { settings: { shortcode: '174379' }, secrets: { passkey: 'p', consumerKey: 'k' } },
        deps,
      ),
    )
    expect(e).toMatchObject({ kind: 'config', code: 'gateway_config_missing' })
    expect(e.hint).toContain('--consumer-secret')
    expect(
      await dshErrorOf(() =>
        createAdapter(
          'mpesa',
          {
            settings: { ...SANDBOX_MPESA.settings, accountType: 'till' },
            secrets: SANDBOX_MPESA.secrets,
          },
          deps,
        ),
      ),
    ).toMatchObject({
      kind: 'config',
    })
    expect(
      await dshErrorOf(() => createAdapter('stripe', { settings: {}, secrets: {} }, deps)),
    ).toMatchObject({ kind: 'config' })
    expect(
      await dshErrorOf(() =>
        createAdapter('square', { settings: {}, secrets: { accessToken: 'x' } }, deps),
      ),
    ).toMatchObject({ kind: 'config' })
    expect(
      await dshErrorOf(() =>
        createAdapter('mpesa-kcb', { settings: {}, secrets: { apiKey: 'x' } }, deps),
      ),
    ).toMatchObject({ kind: 'config' })
  })

  it('the base URL defaults from the environment', async () => {
    const urls: string[] = []
    const recording = {
      ...deps,
      http: {
        request: (r: { url: string }) => {
          urls.push(r.url)
          return Promise.reject(Object.assign(new Error('offline'), { code: 'ENOTFOUND' }))
        },
        close: async () => {},
      },
    }
    const sandbox = createAdapter(
      'mpesa',
      { settings: { ...SANDBOX_MPESA.settings }, secrets: SANDBOX_MPESA.secrets },
      recording,
    )
    const live = createAdapter(
      'mpesa',
      {
        settings: { ...SANDBOX_MPESA.settings, environment: 'production' },
        secrets: SANDBOX_MPESA.secrets,
      },
      recording,
    )
    expect(await sandbox.testCredentials()).toMatchObject({ ok: false, problem: 'unreachable' })
    await live.testCredentials()
    expect(urls).toEqual([
      'https://sandbox.safaricom.co.ke/oauth/v1/generate?grant_type=client_credentials',
      'https://api.safaricom.co.ke/oauth/v1/generate?grant_type=client_credentials',
    ])
  })
})
