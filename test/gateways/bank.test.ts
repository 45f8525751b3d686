import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  type BankTransferClient,
  createBankTransferClient,
  type TransferRequest,
} from '../../src/gateways/index.js'
import { dshErrorOf, shape, startWorld, type World } from './helpers.js'

const SECRET = 'bank-webhook-secret'
let w: World
let bank: BankTransferClient
let n = 0

const transfer = (over: Partial<TransferRequest> = {}): TransferRequest => ({
  reference: `SETTLEMENT-WL-${++n}`,
  amountMinor: 12_345_600n,
  currency: 'KES',
  accountNumber: '1234567890',
  bankCode: '01',
  narrative: `SETTLEMENT-WL-${n} westlands`,
  idempotencyKey: `stl_${n}`,
  ...over,
})

beforeAll(async () => {
  w = await startWorld()
  bank = createBankTransferClient(
    { settings: { baseUrl: w.sb.url }, secrets: { apiKey: 'bank-key', webhookSecret: SECRET } },
    w.deps,
  )
})
afterAll(async () => {
  await w.close()
})
beforeEach(() => {
  w.sb.reset()
  w.rx.received.length = 0
  w.sb.registerWebhook({ gateway: 'bank', url: w.rx.url('/callbacks/bank'), secret: SECRET })
})

describe('bank transfer API', () => {
  it('accepts, confirms with a signed callback, and the query agrees', async () => {
    const t = transfer()
    const res = await bank.transfer(t)
    expect(res.outcome.status).toBe('pending')
    const id = res.outcome.refs.gatewayRef!
    expect(id).toMatch(/^trf_/)
    const [cb] = await w.rx.waitFor(1, '/callbacks/bank')
    expect(
      bank.verifyCallback(
        cb!.body,
        { 'X-Bank-Signature': String(cb!.headers['x-bank-signature']) },
        Date.now(),
      ),
    ).toBe(true)
    const parsed = bank.parseCallback(JSON.parse(cb!.body))
    expect(parsed).toMatchObject({
      dedupeKey: `bank:${id}`,
      attemptRef: t.idempotencyKey,
      amountMinor: 12_345_600n,
      currency: 'KES',
    })
    expect(parsed.outcome.status).toBe('succeeded')
    expect((await bank.query(id)).outcome).toMatchObject({
      status: 'succeeded',
      amountMinor: 12_345_600n,
    })
    expect(w.sb.ledger()).toMatchObject([
      {
        gateway: 'bank',
        reference: id,
        attemptRef: t.idempotencyKey,
        amount: '12345600',
        currency: 'KES',
      },
    ])
  })

  it('a refused transfer is declined; a resend with the same key replays; other data is unknown', async () => {
    w.sb.script({ gateway: 'bank', outcome: 'declined' })
    const t = transfer()
    const first = await bank.transfer(t)
    await w.rx.waitFor(1, '/callbacks/bank')
    expect(shape((await bank.query(first.outcome.refs.gatewayRef!)).outcome)).toMatchObject({
      status: 'failed',
      kind: 'declined',
    })
    const again = await bank.transfer(t)
    expect(again.outcome.refs.gatewayRef).toBe(first.outcome.refs.gatewayRef)
    expect(shape((await bank.transfer({ ...t, amountMinor: 1n })).outcome)).toMatchObject({
      kind: 'unknown',
      code: 'idempotency_conflict',
    })
    expect(w.sb.ledger()).toEqual([])
  })

  it('5xx and reset are unknown: a transfer may exist; the key makes the resend safe', async () => {
    w.sb.script({ gateway: 'bank', outcome: 'http_503' })
    const t = transfer()
    expect(shape((await bank.transfer(t)).outcome)).toMatchObject({
      kind: 'unknown',
      gatewayFault: true,
      code: 'service_unavailable',
    })
    w.sb.script({ gateway: 'bank', outcome: 'connection_reset' })
    const u = transfer()
    expect(shape((await bank.transfer(u)).outcome)).toMatchObject({
      kind: 'unknown',
      gatewayFault: true,
      code: 'transport.reset',
    })
    expect((await bank.transfer(u)).outcome.status).toBe('pending')
  })

  it('signatures: tampered, stale and missing are refused', () => {
    const body = '{"id":"trf_1","status":"completed","reference":"SETTLEMENT-1"}'
    const t = Math.floor(Date.now() / 1000)
    const sign = (ts: number, raw = body) =>
      `t=${ts},v1=${createHmac('sha256', SECRET).update(`${ts}.${raw}`).digest('hex')}`
    const ok = (h: string, raw = body) =>
      bank.verifyCallback(raw, { 'x-bank-signature': h }, Date.now())
    expect(ok(sign(t))).toBe(true)
    expect(ok(sign(t), body.replace('completed', 'failed'))).toBe(false)
    expect(ok(sign(t - 600))).toBe(false)
    expect(ok('t=1,v1=zz')).toBe(false)
    expect(bank.verifyCallback(body, {}, Date.now())).toBe(false)
  })

  it('an unknown body is a validation error; bad keys are rejected', async () => {
    expect(await dshErrorOf(() => bank.parseCallback({ id: 'x' }))).toMatchObject({
      kind: 'validation',
    })
    expect(await bank.testCredentials()).toMatchObject({ ok: true })
    const bad = createBankTransferClient(
      { settings: { baseUrl: w.sb.url }, secrets: { apiKey: 'invalid' } },
      w.deps,
    )
    expect(await bad.testCredentials()).toMatchObject({ ok: false, problem: 'rejected' })
  })
})
