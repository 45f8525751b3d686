import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, type RunningDaemon, startDaemon } from '../daemon/helpers.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'
import { tamperEnvelope } from '../helpers/temp-home.js'
import { api } from './helpers.js'

/** Issue 10, item 2: `dsh keys rotate` while the daemon runs. */
const env = usePaymentsEnv('sqlite')
let daemon: RunningDaemon
let root: string

beforeAll(async () => {
  const r = await env.run('token', 'create', '--name', 'root', '--role', 'admin', '--json')
  expect(r.code, r.stderr).toBe(0)
  root = r.json<{ token: string }>().token
  const port = await freePort()
  daemon = await startDaemon({ DSH_HOME: env.home, DSH_DB: env.db }, [
    '--port',
    String(port),
    '--public-url',
    `http://127.0.0.1:${port}`,
  ])
})

afterAll(async () => {
  expect(await daemon?.stop()).toBe(0)
})

describe('a running daemon and a key rotation', () => {
  it('picks up the rotated key without a restart, and seals new secrets with it', async () => {
    const before = await api(daemon, 'GET', '/api/branches/westlands/payment-gateways', root)
    expect(before.status).toBe(200)
    const rotated = await env.run('keys', 'rotate', '--json')
    expect(rotated.code, rotated.stderr).toBe(0)
    const after = await api(daemon, 'GET', '/api/branches/westlands/payment-gateways', root)
    expect(after.status, after.text).toBe(200)
    expect(after.json).toEqual(before.json)
    const pay = await api(
      daemon,
      'POST',
      '/api/payments/process',
      root,
      { branch: 'karen', amount: '10', currency: 'KES', phone: '254712345678' },
      { 'idempotency-key': 'rot-1' },
    )
    // An M-Pesa push: the daemon opens the consumer key and secret sealed by the new key.
    expect(pay.status, pay.text).toBe(201)
    expect(pay.json['gateway']).toBe('mpesa')
    // A secret the daemon writes now opens in a fresh process: it is under the new key.
    const set = await api(daemon, 'POST', '/api/branches/karen/payment-gateways/mpesa', root, {
      passkey: 'rotatedPasskey1',
    })
    expect(set.status, set.text).toBe(200)
    const show = await env.run('gateway', 'show', 'mpesa', '--branch', 'karen', '--json')
    expect(show.code, show.stderr).toBe(0)
    expect(show.json<{ secrets: Record<string, string> }>().secrets['passkey']).toBe('••••••••key1')
    const h = await api(daemon, 'GET', '/healthz', undefined)
    expect(h.status, h.text).toBe(200)
    expect(h.json['secrets']).toBe('ok')
  })

  it('/healthz is 503 while a stored secret cannot be opened', async () => {
    const store = await env.app.store()
    const row = await store.db
      .selectFrom('gateway_configs')
      .select(['id', 'secrets'])
      .where('type', '=', 'stripe')
      .executeTakeFirstOrThrow()
    const secrets = JSON.parse(row.secrets) as Record<string, string>
    const broken = { ...secrets, secretKey: tamperEnvelope(secrets['secretKey'] ?? '') }
    await store.db
      .updateTable('gateway_configs')
      .set({ secrets: JSON.stringify(broken) })
      .where('id', '=', row.id)
      .execute()
    try {
      const h = await api(daemon, 'GET', '/healthz', undefined)
      expect(h.status).toBe(503)
      expect(h.json['status']).toBe('degraded')
      expect(String(h.json['secrets'])).toMatch(/^secret_tampered: /)
      expect(h.text).not.toContain('sk_test_sandbox123')
    } finally {
      await store.db
        .updateTable('gateway_configs')
        .set({ secrets: row.secrets })
        .where('id', '=', row.id)
        .execute()
    }
    expect((await api(daemon, 'GET', '/healthz', undefined)).status).toBe(200)
  })
})
