import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DSH_BIN } from '../helpers/cli.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'
import { freePort, type RunningDaemon, startDaemon, waitFor } from './helpers.js'

interface Created {
  token: string
  name: string
  role: string
  tenant: string | null
}

const env = usePaymentsEnv('sqlite', { callbackDelayMs: 100 })
let daemon: RunningDaemon
const tokens: Record<string, string> = {}
let globexPayment: string

const run = (...args: string[]) => env.run(...args)

async function api(
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${daemon.url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  })
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: res.status, json: json as Record<string, unknown> & unknown[], text }
}

beforeAll(async () => {
  for (const args of [
    ['tenant', 'add', 'globex', '--name', 'Globex'],
    ['branch', 'add', 'cbd', '--tenant', 'globex', '--name', 'CBD', '--currency', 'KES'],
    ['gateway', 'setup', 'cash', '--tenant', 'globex'],
  ]) {
    const r = await run(...args)
    expect(r.code, r.stderr).toBe(0)
  }
  const g = await run(
    'pay',
    '--branch',
    'cbd',
    '--amount',
    '50',
    '--currency',
    'KES',
    '--method',
    'cash',
    '--json',
  )
  expect(g.code, g.stderr).toBe(0)
  globexPayment = g.json<{ id: string }>().id
  for (const [name, role, tenant] of [
    ['acme-admin', 'admin', 'acme'],
    ['acme-operator', 'operator', 'acme'],
    ['acme-viewer', 'viewer', 'acme'],
    ['globex-operator', 'operator', 'globex'],
    ['root', 'admin', undefined],
  ] as const) {
    const r = await run(
      'token',
      'create',
      '--name',
      name,
      '--role',
      role,
      ...(tenant ? ['--tenant', tenant] : []),
      '--json',
    )
    expect(r.code, r.stderr).toBe(0)
    const t = r.json<Created>()
    expect(t).toEqual({
      token: expect.stringMatching(/^dsh_[A-Za-z0-9_-]{43}$/),
      name,
      role,
      tenant: tenant ?? null,
    })
    tokens[name] = t.token
  }
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
  for (const t of Object.values(tokens)) expect(daemon.stderr()).not.toContain(t)
})

describe('dsh token', () => {
  it('stores only the hash, lists without values, refuses duplicates and bad input', async () => {
    const store = await env.app.store()
    const rows = await store.db.selectFrom('api_tokens').selectAll().execute()
    const root = rows.find((r) => r.name === 'root')!
    expect(root.token_hash).toBe(createHash('sha256').update(tokens['root']!).digest('hex'))
    expect(JSON.stringify(rows)).not.toContain(tokens['root'])
    const list = await run('token', 'list', '--json')
    expect(list.code).toBe(0)
    for (const t of Object.values(tokens)) expect(list.stdout).not.toContain(t)
    expect(list.json<{ name: string; tenant: string | null }[]>().map((t) => t.name)).toContain(
      'acme-viewer',
    )
    expect((await run('token', 'create', '--name', 'root', '--role', 'viewer')).code).toBe(5)
    expect((await run('token', 'create', '--name', 'x', '--role', 'owner')).code).toBe(3)
    expect(
      (await run('token', 'create', '--name', 'x', '--role', 'viewer', '--tenant', 'nope')).code,
    ).toBe(4)
    expect((await run('token', 'create', '--role', 'viewer')).code).toBe(2)
    const audit = await run('audit', 'list', '--action', 'token.*', '--json')
    for (const t of Object.values(tokens)) expect(audit.stdout).not.toContain(t)
  })
})

describe('REST API: tokens, roles and tenants', () => {
  it('401 without a token, with a bad one, and with a revoked one', async () => {
    expect((await api('GET', '/api/branches/westlands/payment-gateways', undefined)).status).toBe(
      401,
    )
    expect((await api('GET', '/api/branches/westlands/payment-gateways', 'dsh_nope')).status).toBe(
      401,
    )
    const t = (
      await run('token', 'create', '--name', 'temp', '--role', 'viewer', '--json')
    ).json<Created>()
    expect((await api('GET', '/api/branches/westlands/settlements', t.token)).status).toBe(200)
    expect((await run('token', 'revoke', 'temp')).code).toBe(0)
    expect((await api('GET', '/api/branches/westlands/settlements', t.token)).status).toBe(401)
  })

  it('viewers only read: 403 on every POST, before any other check', async () => {
    const v = tokens['acme-viewer']
    expect((await api('POST', '/api/payments/process', v, { branch: 'cbd' })).status).toBe(403)
    expect((await api('POST', '/api/payments/process', v, '{not json')).status).toBe(403)
    expect((await api('POST', '/api/branches/westlands/payment-gateways/cash', v, {})).status).toBe(
      403,
    )
    expect(
      (
        await api(
          'POST',
          '/api/branches/westlands/payment-gateways/cash',
          tokens['acme-operator'],
          {},
        )
      ).status,
    ).toBe(403)
    expect((await api('GET', '/api/branches/westlands/settlements', v)).json).toEqual([])
  })

  it('a tenant’s token gets 404 for every other tenant’s branches and payments', async () => {
    const a = tokens['acme-admin']
    for (const path of [
      '/api/branches/cbd/payment-gateways',
      '/api/branches/cbd/settlements',
      `/api/payments/${globexPayment}/status`,
    ]) {
      const r = await api('GET', path, a)
      expect(r.status, path).toBe(404)
      expect(r.text).not.toContain('globex')
    }
    expect((await api('POST', '/api/branches/cbd/payment-gateways/cash', a, {})).status).toBe(404)
    // 404 before 422: the branch is checked before the body.
    const other = await api(
      'POST',
      '/api/payments/process',
      tokens['acme-operator'],
      { branch: 'cbd', amount: 5 },
      { 'idempotency-key': 'k-x' },
    )
    expect(other.status).toBe(404)
    // The same answer as a branch that does not exist at all.
    const none = await api('GET', '/api/branches/nowhere/settlements', a)
    expect(none.status).toBe(404)
    expect((other.json as unknown as { error: { code: string } }).error.code).toBe(
      'branch_not_found',
    )
    // An unscoped token sees both tenants.
    expect((await api('GET', `/api/payments/${globexPayment}/status`, tokens['root'])).status).toBe(
      200,
    )
    expect(
      (await api('GET', '/api/branches/cbd/payment-gateways', tokens['globex-operator'])).status,
    ).toBe(200)
  })

  it('gateways come with secrets masked; admins configure them, audited as the token', async () => {
    const r = await api('GET', '/api/branches/westlands/payment-gateways', tokens['acme-viewer'])
    expect(r.status).toBe(200)
    const types = (r.json as unknown as { type: string; source: string }[]).map((g) => g.type)
    expect(types).toEqual(expect.arrayContaining(['mpesa', 'mpesa-kcb', 'stripe', 'cash']))
    for (const secret of [
      'sk_test_sandbox123',
      'whsec_sandbox123',
      'sandboxConsumerSecret1',
      'kcbApiKey123',
    ])
      expect(r.text).not.toContain(secret)
    expect(r.text).toContain('••••••••')
    const bad = await api(
      'POST',
      '/api/branches/westlands/payment-gateways/stripe',
      tokens['acme-admin'],
      { secretKey: 42 },
    )
    expect(bad.status).toBe(422)
    const typeless = await api(
      'POST',
      '/api/branches/westlands/payment-gateways/paypal',
      tokens['acme-admin'],
      {},
    )
    expect(typeless.status).toBe(404)
    const setup = await api(
      'POST',
      '/api/branches/westlands/payment-gateways/stripe',
      tokens['acme-admin'],
      {
        fees: { transactionFeeRate: '3.1' },
      },
    )
    expect(setup.status, setup.text).toBe(200)
    expect(setup.text).not.toContain('sk_test_sandbox123')
    const made = await api(
      'POST',
      '/api/branches/karen/payment-gateways/cash',
      tokens['acme-admin'],
      { fees: { transactionFeeFlat: '5' } },
    )
    expect(made.status, made.text).toBe(201)
    const audit = (await run('audit', 'list', '--action', 'gateway.*', '--json')).json<
      { actor: string; action: string; branch: string }[]
    >()
    expect(audit.filter((a) => a.actor === 'acme-admin').map((a) => a.action)).toEqual([
      'gateway.update',
      'gateway.create',
    ])
  })

  it('refuses a control character in a gateway field (422 naming the field), writing nothing (issue 22)', async () => {
    const before = (await run('audit', 'list', '--action', 'gateway.*', '--json')).json<unknown[]>()
    const r = await api(
      'POST',
      '/api/branches/westlands/payment-gateways/stripe',
      tokens['acme-admin'],
      { publishableKey: 'pk_test_\u001b[31mred' },
    )
    expect(r.status, r.text).toBe(422)
    expect(r.json).toMatchObject({
      error: {
        code: 'invalid_field',
        message: '--publishable-key: contains a control character (U+001B at character 9)',
      },
    })
    const after = (await run('audit', 'list', '--action', 'gateway.*', '--json')).json<unknown[]>()
    expect(after).toEqual(before)
  })

  it('takes payments with an Idempotency-Key: 400 without, 422 for a numeric amount, 201, 200 replay, 409 conflict', async () => {
    const op = tokens['acme-operator']
    const body = {
      branch: 'westlands',
      amount: '300.00',
      currency: 'KES',
      method: 'cash',
      orderId: 'T9-1',
    }
    expect((await api('POST', '/api/payments/process', op, body)).status).toBe(400)
    const numeric = await api(
      'POST',
      '/api/payments/process',
      op,
      { ...body, amount: 300 },
      { 'idempotency-key': 'order-T9-1' },
    )
    expect(numeric.status).toBe(422)
    expect(numeric.text).toContain('decimal string')
    const first = await api('POST', '/api/payments/process', op, body, {
      'idempotency-key': 'order-T9-1',
    })
    expect(first.status, first.text).toBe(201)
    expect(first.json).toMatchObject({
      status: 'succeeded',
      amountMinor: 30000,
      amount: '300.00',
      currency: 'KES',
      replayed: false,
    })
    const again = await api('POST', '/api/payments/process', op, body, {
      'idempotency-key': 'order-T9-1',
    })
    expect(again.status).toBe(200)
    expect(again.json).toMatchObject({
      id: (first.json as unknown as { id: string }).id,
      replayed: true,
    })
    const conflict = await api(
      'POST',
      '/api/payments/process',
      op,
      { ...body, amount: '301.00' },
      { 'idempotency-key': 'order-T9-1' },
    )
    expect(conflict.status).toBe(409)
    // 422 comes before 409: an invalid body with a used key is invalid.
    expect(
      (
        await api(
          'POST',
          '/api/payments/process',
          op,
          { ...body, amount: 1 },
          { 'idempotency-key': 'order-T9-1' },
        )
      ).status,
    ).toBe(422)
    const id = (first.json as unknown as { id: string }).id
    const status = await api('GET', `/api/payments/${id}/status`, tokens['acme-viewer'])
    expect(status.json).toMatchObject({ id, status: 'succeeded', branch: 'westlands' })
    const audit = (await run('audit', 'list', '--action', 'payment.*', '--json')).json<
      { actor: string; target: string; action: string }[]
    >()
    expect(audit.filter((a) => a.target === id).map((a) => [a.action, a.actor])).toEqual([
      ['payment.create', 'acme-operator'],
      ['payment.succeeded', 'acme-operator'],
    ])
  })

  it('healthz and metrics', async () => {
    const h = await api('GET', '/healthz', undefined)
    expect(h.status).toBe(200)
    expect(h.json).toMatchObject({ status: 'ok', store: 'ok', jobs: { recovery: 'ok' } })
    const m = await api('GET', '/metrics', undefined)
    expect(m.status).toBe(200)
    for (const family of [
      'dsh_payments{status="succeeded",gateway="cash"}',
      'dsh_inbox_depth',
      'dsh_recovery_backlog',
      'dsh_breaker_state{branch="westlands",gateway="mpesa",state="closed"} 1',
      'dsh_http_request_duration_seconds_bucket{route="/api/payments/process",method="POST",code="201",le="+Inf"}',
    ])
      expect(m.text).toContain(family)
  })
})

describe('live events', () => {
  it('an SSE stream shows the token’s tenant only, and Last-Event-ID resumes it', async () => {
    const ctl = new AbortController()
    const res = await fetch(`${daemon.url}/api/events`, {
      headers: { authorization: `Bearer ${tokens['acme-viewer']}` },
      signal: ctl.signal,
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    let text = ''
    const reading = (async () => {
      const dec = new TextDecoder()
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
          text += dec.decode(chunk)
      } catch {
        // aborted
      }
    })()
    // The stream is open (its preamble arrived) before the payments it must show are made.
    await waitFor(() => text.includes(': dsh events from'), 10_000, 'the event stream to open')
    const g = await run(
      'pay',
      '--branch',
      'cbd',
      '--amount',
      '60',
      '--currency',
      'KES',
      '--method',
      'cash',
      '--json',
    )
    const a = await run(
      'pay',
      '--branch',
      'westlands',
      '--amount',
      '61',
      '--currency',
      'KES',
      '--method',
      'cash',
      '--json',
    )
    const acmeId = a.json<{ id: string }>().id
    await waitFor(() => text.includes(acmeId), 5_000, 'the acme event')
    ctl.abort()
    await reading
    expect(text).not.toContain(g.json<{ id: string }>().id)
    expect(text).not.toContain('globex')
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))
    expect(ids.length).toBeGreaterThan(0)
    // Resume from before the last event: it comes again, and nothing older.
    const last = ids.at(-1)!
    const ctl2 = new AbortController()
    const res2 = await fetch(`${daemon.url}/api/events`, {
      headers: {
        authorization: `Bearer ${tokens['acme-viewer']}`,
        'last-event-id': String(last - 1),
      },
      signal: ctl2.signal,
    })
    let text2 = ''
    const dec = new TextDecoder()
    const reader = (res2.body as ReadableStream<Uint8Array>).getReader()
    await waitFor(
      async () => {
        const { value } = await reader.read()
        text2 += dec.decode(value)
        return text2.includes(acmeId)
      },
      5_000,
      'the resumed event',
    )
    ctl2.abort()
    expect([...text2.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))).toEqual([last])
  })

  it('dsh watch prints payments as they change, for its branch only', async () => {
    const child = spawn(
      process.execPath,
      // --since 0: the replay covers events written before the stream is up, so a slow start
      // under load cannot miss the payment's `pending` (the replay is branch-filtered too).
      [DSH_BIN, 'watch', '--branch', 'westlands', '--url', daemon.url, '--json', '--since', '0'],
      {
        env: {
          ...process.env,
          DSH_HOME: env.home,
          DSH_DB: env.db,
          DSH_TOKEN: tokens['acme-viewer'],
          NODE_OPTIONS: '',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
    })
    const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)))
    // No wait for the stream: --since 0 replays what was written before it was up.
    const k = await run(
      'pay',
      '--branch',
      'karen',
      '--amount',
      '70',
      '--currency',
      'KES',
      '--phone',
      '0712345688',
      '--json',
    )
    const w = await run(
      'pay',
      '--branch',
      'westlands',
      '--amount',
      '71',
      '--currency',
      'KES',
      '--phone',
      '0712345689',
      '--json',
    )
    const wid = w.json<{ id: string }>().id
    await waitFor(
      () => out.split('\n').some((l) => l.includes(wid) && l.includes(`"to":"succeeded"`)),
      10_000,
      'watch to print the payment',
    )
    child.kill('SIGTERM')
    expect(await exit).toBe(0)
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { paymentId: string; branch: string; to: string })
    expect(lines.every((l) => l.branch === 'westlands')).toBe(true)
    expect(lines.map((l) => l.paymentId)).not.toContain(k.json<{ id: string }>().id)
    expect(lines.filter((l) => l.paymentId === wid).map((l) => l.to)).toEqual([
      'pending',
      'succeeded',
    ])
  })

  it('dsh watch without a token is a usage error; with a refused one, exit 7', async () => {
    const noToken = await run('watch', '--url', daemon.url)
    expect(noToken.code).toBe(2)
    const refused = await env.run('watch', '--url', daemon.url, '--token', 'dsh_nope')
    expect(refused.code).toBe(7)
  })
})
