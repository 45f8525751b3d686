import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { GatewayCallResult } from '../../src/core/payments/gateway-port.js'
import { createAdapter, createBankTransferClient } from '../../src/gateways/index.js'
import type { Outcome } from '../../src/sandbox/types.js'
import { shape, startWorld, type World, waitUntil } from './helpers.js'

/*
 * Issue 24, Deliver 1, for the gateways whose bare 5xx come from `serverFaults`
 * (src/gateways/outcomes.ts): Stripe, Square and the bank transfer API. The request is processed
 * (money moves, the webhook comes) and a proxy in front loses the answer: a bare 502, a 500
 * without the gateway's body, a 503 with an HTML page, a reset after the headers. Each must be
 * `unknown` (never "not attempted": the router would fail over and charge again), and the resend
 * with the same idempotency key, the way dsh settles such a call, gets the real answer without a
 * second charge. (Daraja and KCB: test/daemon/proxy-fault-push.test.ts, end to end.)
 */

let w: World
let n = 0

const LOST: readonly [Outcome, string][] = [
  ['http_502_charged', 'http.502'],
  ['http_500_charged', 'http.500'],
  ['http_503_charged', 'http.503'],
  ['reset_after_headers', 'transport.reset_after_headers'],
]

type Call = () => Promise<GatewayCallResult>
const GATEWAYS: Record<'stripe' | 'square' | 'bank', () => { call: Call; settled: string }> = {
  stripe: () => {
    const stripe = createAdapter(
      'stripe',
      {
        settings: { environment: 'sandbox', baseUrl: w.sb.url },
        secrets: { secretKey: 'sk_test_123', webhookSecret: 'whsec_x' },
      },
      w.deps,
    )
    const r = {
      attemptRef: `att_lost_${++n}`,
      amountMinor: 1_250n,
      currency: 'USD',
      orderId: `order-${n}`,
      description: 'Dinner',
      callbackUrl: 'https://unused.example/',
      paymentMethod: 'pm_card_visa',
    }
    return { call: () => stripe.initiate(r), settled: 'succeeded' }
  },
  square: () => {
    const square = createAdapter(
      'square',
      {
        settings: {
          environment: 'sandbox',
          baseUrl: w.sb.url,
          locationId: 'LKE001',
          webhookUrl: w.rx.url('/webhooks/square'),
        },
        secrets: { accessToken: 'EAAAsandbox', webhookSignatureKey: 'sq-key' },
      },
      w.deps,
    )
    const r = {
      attemptRef: `att_lost_${++n}`,
      amountMinor: 150_000n,
      currency: 'KES',
      orderId: `order-${n}`,
      description: 'Lunch',
      callbackUrl: 'https://unused.example/',
      paymentMethod: 'cnon:card-nonce-ok',
    }
    return { call: () => square.initiate(r), settled: 'succeeded' }
  },
  bank: () => {
    const bank = createBankTransferClient(
      { settings: { baseUrl: w.sb.url }, secrets: { apiKey: 'bank-key', webhookSecret: 'bk' } },
      w.deps,
    )
    const t = {
      reference: `SETTLEMENT-WL-${++n}`,
      amountMinor: 12_345_600n,
      currency: 'KES',
      accountNumber: '1234567890',
      bankCode: '01',
      narrative: `SETTLEMENT-WL-${n} westlands`,
      idempotencyKey: `stl_${n}`,
    }
    return { call: () => bank.transfer(t), settled: 'pending' }
  },
}

beforeAll(async () => {
  w = await startWorld()
})
afterAll(async () => {
  await w.close()
})
beforeEach(() => {
  w.sb.reset()
})

describe('an answer lost behind a failing proxy, on Stripe, Square and the bank API', () => {
  it('bare 502, 500 without body, 503 with HTML, reset after headers: unknown, one charge, the keyed resend gets the real answer', async () => {
    // One row per gateway × outcome, compared at once: a wrong mapping shows every row it breaks.
    const rows: unknown[] = []
    const want: unknown[] = []
    for (const [gateway, make] of Object.entries(GATEWAYS)) {
      for (const [outcome, code] of LOST) {
        const label = `${gateway} ${outcome}`
        w.sb.script({ gateway: gateway as 'stripe', outcome })
        const { call, settled } = make()
        const before = w.sb.ledger().length
        const first = await call()
        const again = await call()
        // The bank credits the account when it confirms, a moment later.
        await waitUntil(() => w.sb.ledger().length > before, 5_000, `${label}: the money to move`)
        const charges = w.sb.ledger().slice(before)
        rows.push({
          label,
          first: shape(first.outcome),
          again: again.outcome.status,
          charges: charges.map((c) => c.reference),
        })
        want.push({
          label,
          first: { status: 'failed', kind: 'unknown', gatewayFault: true, cancelled: false, code },
          again: settled,
          charges: [again.outcome.refs.gatewayRef],
        })
      }
    }
    expect(rows).toEqual(want)
  })
})
