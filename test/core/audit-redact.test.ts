import { describe, expect, it } from 'vitest'
import { maskPhone, REDACTED, redactForAudit } from '../../src/core/audit/redact.js'

describe('maskPhone', () => {
  it('keeps the first and last 3 digits', () => {
    expect(maskPhone('254712345678')).toBe('254******678')
    expect(maskPhone('+254 712 345 678')).toBe('+254******678')
    expect(maskPhone('0712345678')).toBe('071****678')
  })

  it('hides short values completely', () => {
    expect(maskPhone('123456')).toBe('***')
    expect(maskPhone('')).toBe('***')
  })
})

describe('redactForAudit', () => {
  const request = {
    BusinessShortCode: 174379,
    Password:
      'MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMTYwMjE2MTY1NjI3',
    Amount: 1,
    PartyA: 254708374149,
    PartyB: 174379,
    PhoneNumber: '254708374149',
    idempotencyKey: 'idem-123',
    keyId: 'k1234abcd',
    gateway: {
      consumerKey: 'ck_abc',
      consumer_secret: 'cs_abc',
      passkey: 'bfb279f9aa9bdbcf',
      apiKey: 'sk_test_1',
      'X-Api-Key': 'xak',
      key: 'raw-key',
      accessToken: 'tok',
      refresh_token: 'rtok',
      securityCredential: 'cred',
      shortcode: '174379',
    },
    headers: { Authorization: 'Bearer abc', 'Stripe-Signature': 't=1,v1=abc', accept: 'json' },
    customers: [{ msisdn: '254712345678', name: 'Wanjiku' }, { phone: null }],
    webhookSecret: null,
  }

  it('redacts secrets at any depth, masks phones and leaves the rest', () => {
    expect(redactForAudit(request)).toEqual({
      BusinessShortCode: 174379,
      Password: REDACTED,
      Amount: 1,
      PartyA: '254******149',
      PartyB: 174379,
      PhoneNumber: '254******149',
      idempotencyKey: 'idem-123',
      keyId: 'k1234abcd',
      gateway: {
        consumerKey: REDACTED,
        consumer_secret: REDACTED,
        passkey: REDACTED,
        apiKey: REDACTED,
        'X-Api-Key': REDACTED,
        key: REDACTED,
        accessToken: REDACTED,
        refresh_token: REDACTED,
        securityCredential: REDACTED,
        shortcode: '174379',
      },
      headers: { Authorization: REDACTED, 'Stripe-Signature': REDACTED, accept: 'json' },
      customers: [{ msisdn: '254******678', name: 'Wanjiku' }, { phone: null }],
      webhookSecret: null,
    })
  })

  it('redacts a whole object under a secret name', () => {
    expect(redactForAudit({ credentials: { user: 'u', pass: 'p' } })).toEqual({
      credentials: REDACTED,
    })
  })

  it('copies rather than changes its input', () => {
    const input = { nested: { password: 'p' }, list: [1, 2] }
    const out = redactForAudit(input) as typeof input
    expect(input.nested.password).toBe('p')
    expect(out.list).not.toBe(input.list)
  })

  it('passes primitives through and survives cycles', () => {
    expect(redactForAudit('plain')).toBe('plain')
    expect(redactForAudit(5n)).toBe(5n)
    const loop: Record<string, unknown> = { a: 1 }
    loop['self'] = loop
    expect(redactForAudit(loop)).toEqual({ a: 1, self: '[circular]' })
  })

  it('never lets a secret value reach the serialised output', () => {
    const text = JSON.stringify(redactForAudit(request))
    for (const secret of ['cs_abc', 'bfb279f9aa9bdbcf', 'Bearer abc', 'raw-key', 'sk_test_1']) {
      expect(text).not.toContain(secret)
    }
  })
})
