import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, post, type RunningDaemon, startDaemon } from '../daemon/helpers.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'
import { api } from './helpers.js'

/** Issue 10, item 8: the smaller findings a real daemon shows. */
const env = usePaymentsEnv('sqlite')
let daemon: RunningDaemon
let root: string
let mpesaUrl: string

beforeAll(async () => {
  const t = await env.run('token', 'create', '--name', 'root', '--role', 'admin', '--json')
  root = t.json<{ token: string }>().token
  const port = await freePort()
  daemon = await startDaemon({ DSH_HOME: env.home, DSH_DB: env.db }, [
    '--port',
    String(port),
    '--public-url',
    `http://127.0.0.1:${port}`,
  ])
  mpesaUrl = (
    await env.run('gateway', 'callback-url', 'mpesa', '--branch', 'westlands', '--json')
  ).json<{ url: string }>().url
})

afterAll(async () => {
  expect(await daemon?.stop()).toBe(0)
})

const inboxSize = async () =>
  (await env.run('callbacks', 'list', '--json')).json<unknown[]>().length

describe('request bodies', () => {
  it('JSON nested 20,000 deep on a callback URL is 400, nothing stored, the daemon fine', async () => {
    const before = await inboxSize()
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`
    const r = await post(mpesaUrl, deep)
    expect(r.status).toBe(400)
    expect(r.body).toEqual({
      error: { code: 'too_deep', message: 'the body is nested deeper than 64 levels' },
    })
    const objects = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`
    expect((await post(mpesaUrl, objects)).status).toBe(400)
    expect(await inboxSize()).toBe(before)
    expect((await fetch(`${daemon.url}/healthz`)).status).toBe(200)
    expect(daemon.stderr()).not.toContain('Maximum call stack')
  })

  it('an API body sent as text/plain is 415; duplicate keys are 400', async () => {
    const plain = await api(
      daemon,
      'POST',
      '/api/payments/process',
      root,
      JSON.stringify({ branch: 'westlands', amount: '10', currency: 'KES', method: 'cash' }),
      { 'content-type': 'text/plain', 'idempotency-key': 'plain-1' },
    )
    expect(plain.status).toBe(415)
    expect(plain.json.error?.code).toBe('unsupported_media_type')
    const dup = await api(
      daemon,
      'POST',
      '/api/payments/process',
      root,
      '{"branch":"westlands","amount":"10","amount":"1000000","currency":"KES","method":"cash"}',
      { 'idempotency-key': 'dup-1' },
    )
    expect(dup.status).toBe(400)
    expect(dup.json.error).toEqual({
      code: 'duplicate_key',
      message: 'the body names "amount" twice in one object',
    })
    // Escaped spellings of one key are one key; the same key in two objects is fine.
    const escaped = await api(
      daemon,
      'POST',
      '/api/branches/westlands/payment-gateways/cash',
      root,
      '{"fees":{"settlementFee":"1"},"fe\\u0065s":{"settlementFee":"2"}}',
    )
    expect(escaped.status).toBe(400)
    const ok = await api(
      daemon,
      'POST',
      '/api/payments/process',
      root,
      '{"branch":"westlands","amount":"10","currency":"KES","method":"cash","orderId":"o-1"}',
      { 'idempotency-key': 'ok-1' },
    )
    expect(ok.status, ok.text).toBe(201)
  })

  it('a gateway body with __proto__ is 422 like constructor; nothing changes', async () => {
    const path = '/api/branches/westlands/payment-gateways/stripe'
    for (const key of ['__proto__', 'constructor']) {
      const r = await api(daemon, 'POST', path, root, `{"${key}":"x","readTimeout":"7"}`)
      expect(r.status, `${key}: ${r.text}`).toBe(422)
      expect(r.json.error?.message).toBe(`${key} does not apply to stripe`)
    }
    const shown = await env.run('gateway', 'show', 'stripe', '--branch', 'westlands', '--json')
    expect(shown.json<{ settings: Record<string, string> }>().settings['readTimeout']).toBe('1')
  })

  it('API errors name fields, not CLI flags', async () => {
    const r = await api(
      daemon,
      'POST',
      '/api/payments/process',
      root,
      { branch: 'westlands', amount: '10', currency: 'KES', method: 'cash', orderId: 'bad order' },
      { 'idempotency-key': 'fields-1' },
    )
    expect(r.status).toBe(422)
    expect(r.json.error?.message).toContain('orderId')
    expect(r.json.error?.message).not.toContain('--')
    const m = await api(
      daemon,
      'POST',
      '/api/payments/process',
      root,
      { branch: 'westlands', amount: '10', currency: 'KES', method: 'bitcoin' },
      { 'idempotency-key': 'fields-2' },
    )
    expect(m.status).toBe(422)
    expect(m.json.error?.message).toBe('method must be one of mpesa, card, cash')
  })
})

/** Opens a raw connection, sends `text`, and resolves with the ms until the server closes it. */
function closedAfter(port: number, text: string): Promise<{ ms: number; answer: string }> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    let answer = ''
    const s = connect(port, '127.0.0.1', () => s.write(text))
    s.setEncoding('utf8')
    s.on('data', (d: string) => {
      answer += d
    })
    s.on('error', reject)
    s.on('close', () => resolve({ ms: Date.now() - started, answer }))
  })
}

describe('timeouts as documented: headers within 10 s, the whole request within 30 s', () => {
  it('a slow client is cut off on time, not up to 30 s late', async () => {
    const [headers, body] = await Promise.all([
      closedAfter(daemon.port, 'POST /callbacks/mpesa/x HTTP/1.1\r\nHost: a\r\n'),
      closedAfter(
        daemon.port,
        `POST ${new URL(mpesaUrl).pathname} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`,
      ),
    ])
    expect(headers.ms).toBeGreaterThanOrEqual(9_900)
    expect(headers.ms).toBeLessThan(12_000)
    expect(headers.answer).toMatch(/^HTTP\/1\.1 408/)
    expect(body.ms).toBeGreaterThanOrEqual(29_900)
    expect(body.ms).toBeLessThan(32_000)
    expect(body.answer).toMatch(/^HTTP\/1\.1 408/)
  }, 45_000)
})
