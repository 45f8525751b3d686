import { describe, expect, it } from 'vitest'
import { admit, closedBreaker, DEFAULT_BREAKER, record } from '../../src/core/payments/breaker.js'
import { paymentFee } from '../../src/core/payments/fees.js'
import { requestFingerprint } from '../../src/core/payments/fingerprint.js'
import {
  defaultRules,
  type GatewayOffer,
  parseRules,
  route,
} from '../../src/core/payments/routing.js'
import { canMove, isFinal } from '../../src/core/payments/states.js'
import { maskMsisdn, normalisePhone } from '../../src/core/phone.js'

const offers: GatewayOffer[] = [
  { type: 'mpesa', enabled: true, currencies: ['KES'] },
  { type: 'mpesa-kcb', enabled: true, currencies: ['KES', 'UGX'] },
  { type: 'stripe', enabled: true, currencies: 'any' },
  { type: 'cash', enabled: true, currencies: 'any' },
]
const base = {
  amountMinor: 150_000n,
  currency: 'KES',
  branchCurrency: 'KES',
  method: 'mpesa' as const,
  customerType: 'regular' as const,
}

describe('default routing (PRODUCT.md)', () => {
  it('standard M-Pesa goes to mpesa first, kcb as the fallback', () => {
    const d = route(base, defaultRules(), offers)
    expect(d.order).toEqual(['mpesa', 'mpesa-kcb'])
    expect(d.rule).toBe('fallback')
  })
  it('high value, enterprise and cross-border prefer mpesa-kcb', () => {
    expect(route({ ...base, amountMinor: 1_000_000n }, defaultRules(), offers)).toMatchObject({
      rule: 'high value',
      order: ['mpesa-kcb', 'mpesa'],
    })
    expect(route({ ...base, amountMinor: 999_999n }, defaultRules(), offers).rule).toBe('fallback')
    expect(route({ ...base, customerType: 'enterprise' }, defaultRules(), offers).order[0]).toBe(
      'mpesa-kcb',
    )
    const ugx = route({ ...base, currency: 'UGX', amountMinor: 5000n }, defaultRules(), offers)
    expect(ugx).toMatchObject({ rule: 'cross-border', order: ['mpesa-kcb'] })
    expect(ugx.candidates.find((c) => c.gateway === 'mpesa')?.reason).toContain('does not take UGX')
  })
  it('card goes to stripe, cash to cash; disabled and missing gateways are explained', () => {
    expect(route({ ...base, method: 'card' }, defaultRules(), offers).order).toEqual(['stripe'])
    expect(route({ ...base, method: 'cash' }, defaultRules(), offers).order).toEqual(['cash'])
    const d = route(base, defaultRules(), [{ type: 'mpesa', enabled: false, currencies: ['KES'] }])
    expect(d.order).toEqual([])
    expect(d.candidates).toEqual([
      { gateway: 'mpesa', eligible: false, reason: 'disabled' },
      { gateway: 'mpesa-kcb', eligible: false, reason: 'not configured for this branch' },
    ])
  })
})

describe('rules files', () => {
  it('first match wins, else the fallback', () => {
    const rules = parseRules({
      rules: [
        {
          when: { currency: 'KES', minAmount: '500', maxAmount: '2,000' },
          gateways: ['mpesa-kcb'],
        },
      ],
      fallback: ['mpesa'],
    })
    expect(route({ ...base, amountMinor: 100_000n }, rules, offers).order).toEqual(['mpesa-kcb'])
    expect(route({ ...base, amountMinor: 300_000n }, rules, offers).order).toEqual(['mpesa'])
  })
  it('names every problem', () => {
    expect(() =>
      parseRules({
        rules: [{ when: { colour: 'red', minAmount: 'lots' }, gateways: ['paypal'] }],
        fallback: [],
      }),
    ).toThrow(/3 problems.*colour.*minAmount.*paypal/)
    expect(() => parseRules([1, 2])).toThrow(/JSON object/)
    expect(() =>
      parseRules({
        rules: [{ when: { currency: 'UGX', minAmount: '10.5' }, gateways: ['mpesa'] }],
      }),
    ).toThrow(/decimal/)
  })
})

describe('circuit breaker', () => {
  const s = DEFAULT_BREAKER
  it('opens after the threshold of consecutive faults, and a success resets the count', () => {
    let b = closedBreaker()
    for (let i = 0; i < 4; i++) b = record(b, true, 1000, s)
    expect(b.state).toBe('closed')
    expect(record(b, false, 1000, s)).toEqual(closedBreaker())
    b = record(b, true, 1000, s)
    expect(b.state).toBe('open')
    expect(admit(b, 1000 + s.cooldownMs - 1, s).allowed).toBe(false)
  })
  it('half-opens after the cool-down for one probe; a fault reopens, a success closes', () => {
    const open = { state: 'open' as const, consecutiveFaults: 5, changedAtMs: 0 }
    const a = admit(open, s.cooldownMs, s)
    expect(a).toMatchObject({ allowed: true, probe: true })
    if (!a.allowed) throw new Error('unreachable')
    expect(admit(a.next, s.cooldownMs + 1, s).allowed).toBe(false)
    expect(record(a.next, true, s.cooldownMs + 5, s)).toMatchObject({
      state: 'open',
      changedAtMs: s.cooldownMs + 5,
    })
    expect(record(a.next, false, s.cooldownMs + 5, s).state).toBe('closed')
  })
})

describe('states, fees, fingerprints, phones', () => {
  it('final states never move back; a late failure never overrides a success', () => {
    expect(canMove('succeeded', 'failed')).toBe(false)
    expect(canMove('pending', 'succeeded')).toBe(true)
    expect(canMove('unknown', 'succeeded')).toBe(true)
    expect(canMove('failed', 'succeeded')).toBe(false)
    expect(isFinal('cancelled')).toBe(true)
  })
  it('fees: rate half-up per payment plus the flat fee; conversion only across currencies', () => {
    const fees = {
      currency: 'KES',
      transactionFeeBp: 150,
      transactionFeeFlatMinor: 250n,
      conversionFeeBp: 100,
      settlementFeeMinor: 0n,
    }
    expect(paymentFee(100_500n, 'KES', 'KES', fees)).toMatchObject({ feeMinor: 1508n + 250n })
    expect(paymentFee(100_000n, 'USD', 'KES', fees).feeMinor).toBe(1500n + 1000n)
  })
  it('fingerprints ignore nothing that defines the charge', () => {
    const f = {
      branch: 'w',
      amountMinor: 100n,
      currency: 'KES',
      phone: '254712345678',
      orderId: 'o1',
      method: 'mpesa',
      customerType: 'regular',
    }
    expect(requestFingerprint(f)).toBe(requestFingerprint({ ...f }))
    expect(requestFingerprint(f)).not.toBe(requestFingerprint({ ...f, amountMinor: 101n }))
    expect(requestFingerprint(f)).not.toBe(requestFingerprint({ ...f, orderId: null }))
  })
  it('normalises Kenyan phone numbers and refuses the rest', () => {
    for (const p of ['0712345678', '+254712345678', '254712345678', '0712 345 678', '0712-345-678'])
      expect(normalisePhone(p)).toBe('254712345678')
    expect(normalisePhone('0110123456')).toBe('254110123456')
    for (const p of ['12345', '0812345678', '+255712345678', '25471234567', 'phone'])
      expect(() => normalisePhone(p)).toThrow(/not a Kenyan mobile number/)
    expect(maskMsisdn('254712345678')).toBe('2547******78')
  })
})
