import { createHmac } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.js'
import { parseDaemonOptions, runDaemon } from '../../src/daemon/index.js'
import { dsh } from '../helpers/cli.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'
import { testRuntime } from '../helpers/run-cli.js'
import { freePort, post, startDaemon, stkCallback, waitFor } from './helpers.js'

const env = usePaymentsEnv('sqlite', { callbackDelayMs: 100, slowAnswerMs: 1_500 })
const vars = () => ({ DSH_HOME: env.home, DSH_DB: env.db })

describe('dsh daemon lifecycle', () => {
  it('one daemon per SQLite store: a second one exits 7 and says which one holds it', async () => {
    const first = await startDaemon(vars(), ['--port', '0'])
    const second = await dsh(['daemon', '--port', '0'], { env: vars() })
    expect(second.code).toBe(7)
    expect(second.stderr).toContain('another dsh daemon is already running')
    expect(second.stderr).toContain(`pid ${first.proc.pid}`)
    expect(second.stderr).toContain(first.url)
    // SIGINT stops it cleanly too, and releases the lock at once.
    expect(await first.stop('SIGINT')).toBe(0)
    const again = await startDaemon(vars(), ['--port', '0'])
    expect(await again.stop()).toBe(0)
    // 9 s at a load of 18 on 2 cores (two daemons): over 3× its quiet time.
  }, 60_000)

  it('SIGTERM: stops accepting, finishes the request in flight, exits 0', async () => {
    const token = (
      await env.run('token', 'create', '--name', 'lifecycle-op', '--role', 'operator', '--json')
    ).json<{ token: string }>().token
    // The push answer is withheld 1.5 s, so the API request is still in flight at SIGTERM.
    env.sandbox.script({ gateway: 'mpesa', outcome: 'slow_success', count: 1 })
    await env.run('gateway', 'setup', 'mpesa', '--branch', 'westlands', '--read-timeout', '5')
    const d = await startDaemon(vars(), ['--port', '0', '--shutdown-timeout', '10s'])
    const inFlight = fetch(`${d.url}/api/payments/process`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'idempotency-key': 'lifecycle-1',
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        branch: 'westlands',
        amount: '500',
        currency: 'KES',
        phone: '0712345677',
      }),
    })
    await waitFor(
      () => env.sandbox.requests().some((r) => r.status === 'withheld'),
      5_000,
      'the push to be in flight',
    )
    d.proc.kill('SIGTERM')
    await waitFor(
      () => d.logs.some((l) => l.msg === 'stopping'),
      5_000,
      'the daemon to start stopping',
    )
    await expect(fetch(`${d.url}/healthz`)).rejects.toThrow()
    const res = await inFlight
    expect(res.status).toBe(201)
    expect(((await res.json()) as { status: string }).status).toBe('pending')
    expect(await d.exited).toBe(0)
    expect(d.logs.map((l) => l.msg)).toContain('stopped')
    await env.run('gateway', 'setup', 'mpesa', '--branch', 'westlands', '--read-timeout', '1')
  })

  it('configuration from flags and environment; bad values are usage or input errors', async () => {
    expect((await dsh(['daemon', '--port', 'eighty'], { env: vars() })).code).toBe(2)
    expect((await dsh(['daemon', '--recovery-schedule', '2m,1m'], { env: vars() })).code).toBe(2)
    expect(
      (await dsh(['daemon', '--public-url', 'http://pay.example.com'], { env: vars() })).code,
    ).toBe(3)
    const port = await freePort()
    const d = await startDaemon(
      { ...vars(), DSH_DAEMON_PORT: String(port), DSH_PUBLIC_URL: `http://localhost:${port}` },
      [],
    )
    expect(d.port).toBe(port)
    const busy = await dsh(['daemon', '--db', `${env.home}/other.db`, '--port', String(port)], {
      env: vars(),
    })
    expect(busy.code).toBe(7)
    // The public URL is stored: other processes build callback URLs from it.
    const url = (
      await env.run('gateway', 'callback-url', 'mpesa', '--branch', 'karen', '--json')
    ).json<{
      url: string
    }>().url
    expect(url).toMatch(new RegExp(`^http://localhost:${port}/callbacks/mpesa/[0-9a-f]{32}$`))
    expect(
      (await env.run('config', 'get', 'public-url', '--json')).json<{ value: string }>().value,
    ).toBe(`http://localhost:${port}`)
    // Rotating the path token: the old URL stops working without a restart.
    const local = url.replace('localhost', '127.0.0.1')
    expect((await post(local, stkCallback('ws_CO_ROT_1'))).status).toBe(200)
    const rotated = (
      await env.run('gateway', 'callback-url', 'mpesa', '--branch', 'karen', '--rotate', '--json')
    ).json<{ url: string; rotated: boolean }>()
    expect(rotated.rotated).toBe(true)
    expect(rotated.url).not.toBe(url)
    // The daemon picks the rotation up without a restart: the old URL answers 404 from then on.
    await waitFor(
      async () => (await post(local, stkCallback('ws_CO_ROT_2'))).status === 404,
      10_000,
      'the old callback URL to stop working',
    )
    expect((await post(local, stkCallback('ws_CO_ROT_2'))).status).toBe(404)
    expect(
      (await post(rotated.url.replace('localhost', '127.0.0.1'), stkCallback('ws_CO_ROT_3')))
        .status,
    ).toBe(200)
    const audit = await env.run(
      'audit',
      'list',
      '--action',
      'gateway.callback_token_rotate',
      '--json',
    )
    expect(audit.stdout).not.toContain(rotated.url.split('/').pop())
    expect(
      (await env.run('gateway', 'callback-url', 'stripe', '--branch', 'karen', '--rotate')).code,
    ).toBe(2)
    expect((await env.run('gateway', 'callback-url', 'cash', '--branch', 'karen')).code).toBe(2)
    expect(await d.stop()).toBe(0)
    // 21 s at a load of 18 on 2 cores (a dozen daemon starts): over 3× its quiet time.
  }, 90_000)

  it('the Daraja source allow-list refuses other addresses with 404', async () => {
    const d = await startDaemon(vars(), ['--port', '0', '--mpesa-allow-ips', '196.201.214.0/24'])
    const url = (
      await env.run('gateway', 'callback-url', 'mpesa', '--branch', 'westlands', '--json')
    ).json<{
      url: string
    }>().url
    const path = new URL(url).pathname
    expect((await post(`${d.url}${path}`, stkCallback('ws_CO_IP_1'))).status).toBe(404)
    expect(await d.stop()).toBe(0)
    const open = await startDaemon(vars(), ['--port', '0', '--mpesa-allow-ips', '127.0.0.1'])
    expect((await post(`${open.url}${path}`, stkCallback('ws_CO_IP_2'))).status).toBe(200)
    expect(await open.stop()).toBe(0)
  })
})

describe('bank transfer confirmations (in process, with a bank webhook secret)', () => {
  it('without a bank API configured the URL is unknown (404); with one, HMAC + timestamp decide', async () => {
    const bankUrl = (
      await env.run('gateway', 'callback-url', 'bank', '--branch', 'westlands', '--json')
    ).json<{
      url: string
    }>().url
    const path = new URL(bankUrl).pathname
    const plain = await startDaemon(vars(), ['--port', '0'])
    expect((await post(`${plain.url}${path}`, { id: 'trf_1' })).status).toBe(404)
    expect(await plain.stop()).toBe(0)

    const { rt } = testRuntime({ env: vars() })
    const app = createApp(rt, {})
    const signals = new EventEmitter()
    let log = ''
    let listening: { url: string } | undefined
    const running = runDaemon(app, parseDaemonOptions({ port: '0', unmatchedWindow: '1s' }, {}), {
      signals,
      bankSecret: async () => ['bank-secret-1'],
      logWrite: (t) => {
        log += t
      },
      onListening: (info) => {
        listening = info
      },
    })
    await waitFor(() => listening, 10_000, 'the in-process daemon')
    const body = JSON.stringify({
      id: 'trf_ABC',
      reference: 'SETTLEMENT-1',
      status: 'completed',
      amount: '1000',
      currency: 'KES',
    })
    const sign = (t: number, secret = 'bank-secret-1') =>
      `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`
    const now = Math.floor(Date.now() / 1000)
    const target = `${listening!.url}${path}`
    expect((await post(target, body)).status).toBe(401)
    expect((await post(target, body, { 'x-bank-signature': sign(now, 'other') })).status).toBe(401)
    expect((await post(target, body, { 'x-bank-signature': sign(now - 900) })).status).toBe(401)
    expect((await post(target, body, { 'x-bank-signature': sign(now) })).status).toBe(200)
    // No settlement batch exists to complete: it waits, then is orphaned, never dropped.
    const orphan = await waitFor(
      async () =>
        (await env.run('callbacks', 'list', '--gateway', 'bank', '--json'))
          .json<{ dedupeKey: string; status: string; note: string }[]>()
          .find((c) => c.dedupeKey === 'bank:trf_ABC' && c.status === 'orphaned'),
      10_000,
      'the bank confirmation to be orphaned',
    )
    expect(orphan.note).toContain('no settlement batch')
    signals.emit('SIGTERM')
    await running
    await app.close()
    expect(log).toContain('"msg":"stopped"')
    expect(log).not.toContain(path.split('/').pop())
  })
})
