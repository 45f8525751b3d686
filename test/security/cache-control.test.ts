import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningDaemon, startDaemon } from '../daemon/helpers.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'

/** Issue 23, item 9: no daemon answer (API data, errors, events) may be kept by a cache. */
const env = usePaymentsEnv('sqlite')
let daemon: RunningDaemon
let root: string
let paymentId: string

beforeAll(async () => {
  root = (
    await env.run('token', 'create', '--name', 'cache-root', '--role', 'admin', '--json')
  ).json<{ token: string }>().token
  daemon = await startDaemon({ DSH_HOME: env.home, DSH_DB: env.db }, ['--port', '0'])
  const paid = await fetch(`${daemon.url}/api/payments/process`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${root}`,
      'content-type': 'application/json',
      'idempotency-key': 'cache-1',
    },
    body: JSON.stringify({ branch: 'westlands', amount: '10', currency: 'KES', method: 'cash' }),
  })
  expect(paid.status).toBe(201)
  paymentId = ((await paid.json()) as { id: string }).id
})

afterAll(async () => {
  expect(await daemon?.stop()).toBe(0)
})

describe('Cache-Control: no-store', () => {
  it('on every API route, for answers and errors alike (and health, metrics, 404, 405)', async () => {
    const auth = { authorization: `Bearer ${root}` }
    const json = { ...auth, 'content-type': 'application/json' }
    const cases: [string, string, Record<string, string>, string | undefined, number][] = [
      ['GET', '/api/branches/westlands/payment-gateways', auth, undefined, 200],
      ['GET', '/api/branches/westlands/payment-gateways', {}, undefined, 401],
      ['POST', '/api/branches/westlands/payment-gateways/cash', json, '{}', 201],
      ['GET', '/api/branches/westlands/settlements', auth, undefined, 200],
      ['GET', '/api/branches/nowhere/settlements', auth, undefined, 404],
      [
        'POST',
        '/api/payments/process',
        { ...json, 'idempotency-key': 'cache-1' },
        JSON.stringify({ branch: 'westlands', amount: '10', currency: 'KES', method: 'cash' }),
        200,
      ],
      ['POST', '/api/payments/process', json, '{', 400],
      ['GET', `/api/payments/${paymentId}/status`, auth, undefined, 200],
      ['GET', '/api/branches/westlands/report', auth, undefined, 200],
      ['GET', '/healthz', {}, undefined, 200],
      ['GET', '/metrics', {}, undefined, 200],
      ['GET', '/api/nothing-here', auth, undefined, 404],
      ['DELETE', '/api/payments/process', auth, undefined, 405],
      ['POST', '/callbacks/mpesa/00000000000000000000000000000000', {}, '{}', 404],
    ]
    for (const [method, path, headers, body, status] of cases) {
      const res = await fetch(`${daemon.url}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
      })
      await res.arrayBuffer()
      expect([method, path, res.status, res.headers.get('cache-control')]).toEqual([
        method,
        path,
        status,
        'no-store',
      ])
    }
    // The event stream too (read its head, then let it go).
    const ctl = new AbortController()
    const events = await fetch(`${daemon.url}/api/events`, { headers: auth, signal: ctl.signal })
    expect([events.status, events.headers.get('cache-control')]).toEqual([200, 'no-store'])
    ctl.abort()
  })
})
