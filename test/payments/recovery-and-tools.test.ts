import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DSH_BIN } from '../helpers/cli.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'
import { tamperEnvelope } from '../helpers/temp-home.js'
import { waitFor } from '../helpers/wait.js'

interface Payment {
  id: string
  status: string
  gateway: string | null
  attempts: { status: string; gateway: string }[]
}

const env = usePaymentsEnv('sqlite')

describe('a crash mid-call never leads to a second charge', () => {
  it('dsh pay killed while KCB is answering slowly: the attempt stays `sending`, sync finds the charge by our reference', async () => {
    env.sandbox.script({ gateway: 'mpesa-kcb', outcome: 'slow_success', count: 1 })
    const before = env.sandbox.ledger().length
    const child = spawn(
      process.execPath,
      [
        DSH_BIN,
        'pay',
        '--branch',
        'westlands',
        '--amount',
        '25,000',
        '--currency',
        'KES',
        '--phone',
        '0733000222',
        '--json',
      ],
      {
        env: { ...process.env, DSH_HOME: env.home, DSH_DB: env.db, NODE_OPTIONS: '' },
        stdio: 'ignore',
      },
    )
    // Kill it once the push has reached KCB (the answer is being withheld).
    await waitFor(
      () => env.sandbox.requests().some((q) => q.path.includes('initiate_kcb_stk_push')),
      10_000,
      'the push to reach KCB',
    )
    child.kill('SIGKILL')
    await new Promise((r) => child.on('exit', r))
    const list = (await env.run('payments', 'list', '--json')).json<
      { id: string; status: string; amount: string }[]
    >()
    const p = list.find((x) => x.amount === '25000.00')
    expect(p?.status).toBe('created')
    const show = (await env.run('payments', 'show', p?.id ?? '', '--json')).json<Payment>()
    expect(show.attempts).toEqual([
      expect.objectContaining({ gateway: 'mpesa-kcb', status: 'sending' }),
    ])
    // The customer has paid KCB (the sync below finds that charge).
    await waitFor(
      () => env.sandbox.ledger().some((c) => c.gateway === 'mpesa-kcb'),
      10_000,
      'KCB to charge the customer',
    )
    const synced = await env.run('payments', 'sync', p?.id ?? '', '--json')
    expect(synced.code, synced.stderr).toBe(0)
    expect(synced.json<Payment>()).toMatchObject({ status: 'succeeded', gateway: 'mpesa-kcb' })
    expect(env.sandbox.ledger().slice(before)).toHaveLength(1)
  })
})

describe('a payment that cannot be sent is never left created', () => {
  it('a tampered credential stops the payment with exit 7 and fails it, with no attempt sent', async () => {
    const { openStore } = await import('../../src/store/connect.js')
    const store = await openStore(env.db)
    const row = await store.db
      .selectFrom('gateway_configs')
      .select(['id', 'secrets'])
      .where('type', '=', 'stripe')
      .executeTakeFirstOrThrow()
    const secrets = JSON.parse(row.secrets) as Record<string, string>
    const good = secrets['secretKey'] ?? ''
    secrets['secretKey'] = tamperEnvelope(good)
    await store.db
      .updateTable('gateway_configs')
      .set({ secrets: JSON.stringify(secrets) })
      .where('id', '=', row.id)
      .execute()
    try {
      const r = await env.run(
        'pay',
        '--branch',
        'westlands',
        '--amount',
        '90',
        '--currency',
        'KES',
        '--method',
        'card',
        '--json',
      )
      expect(r.code).toBe(7)
      const last = (await env.run('payments', 'list', '--limit', '1', '--json')).json<
        { id: string; status: string }[]
      >()[0]
      expect(last?.status).toBe('failed')
      const detail = (await env.run('payments', 'show', last?.id ?? '', '--json')).json<Payment>()
      expect(detail.attempts).toEqual([])
    } finally {
      await store.db
        .updateTable('gateway_configs')
        .set({ secrets: row.secrets })
        .where('id', '=', row.id)
        .execute()
      await store.close()
    }
  })
})

describe('card payments without --payment-method', () => {
  it('use the sandbox test card in a sandbox set-up, and are refused (exit 2) in production', async () => {
    const r = await env.run(
      'pay',
      '--branch',
      'westlands',
      '--amount',
      '95',
      '--currency',
      'KES',
      '--method',
      'card',
      '--wait',
      '--timeout',
      '10s',
      '--json',
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.json<Payment>()).toMatchObject({ status: 'succeeded', gateway: 'stripe' })
    const add = await env.run(
      'branch',
      'add',
      'nyali',
      '--tenant',
      'acme',
      '--name',
      'Nyali',
      '--currency',
      'KES',
    )
    expect(add.code, add.stderr).toBe(0)
    const sk = join(env.home, 'sk-live')
    writeFileSync(sk, 'sk_live_example')
    const wh = join(env.home, 'wh-live')
    writeFileSync(wh, 'whsec_live')
    const setup = await env.run(
      'gateway',
      'setup',
      'stripe',
      '--branch',
      'nyali',
      '--environment',
      'production',
      '--base-url',
      'https://api.stripe.com',
      '--secret-key-file',
      sk,
      '--webhook-secret-file',
      wh,
    )
    expect(setup.code, setup.stderr).toBe(0)
    const live = await env.run(
      'pay',
      '--branch',
      'nyali',
      '--amount',
      '95',
      '--currency',
      'KES',
      '--method',
      'card',
    )
    expect(live.code).toBe(2)
    expect(live.stderr).toContain('--payment-method')
  })
})

describe('route set/show and gateway test', () => {
  it('a branch replaces its routing rules with a validated file and can reset them', async () => {
    const file = join(env.home, 'rules.json')
    writeFileSync(
      file,
      JSON.stringify({
        rules: [{ when: { method: 'mpesa', maxAmount: '50' }, gateways: ['mpesa-kcb'] }],
        fallback: ['mpesa'],
      }),
    )
    const set = await env.run('route', 'set', '--branch', 'karen', '--file', file, '--json')
    expect(set.code, set.stderr).toBe(0)
    expect(set.json()).toMatchObject({ source: 'branch' })
    const small = await env.run(
      'route',
      'explain',
      '--branch',
      'karen',
      '--amount',
      '40',
      '--currency',
      'KES',
      '--json',
    )
    expect(small.json()).toMatchObject({ rule: 'rule 1', order: [] })
    writeFileSync(file, '{"rules":[{"when":{"method":"bitcoin"},"gateways":[]}]}')
    const bad = await env.run('route', 'set', '--branch', 'karen', '--file', file)
    expect(bad.code).toBe(3)
    expect(bad.stderr).toMatch(/2 problems/)
    writeFileSync(file, '{not json')
    expect((await env.run('route', 'set', '--branch', 'karen', '--file', file)).code).toBe(3)
    expect(
      (await env.run('route', 'set', '--branch', 'karen', '--reset', '--json')).json(),
    ).toMatchObject({ source: 'default' })
    expect((await env.run('route', 'show', '--branch', 'karen')).stdout).toContain('high value')
  })

  it('gateway test: 0 for good credentials, 7 when rejected, 6 when unreachable', async () => {
    const ok = await env.run('gateway', 'test', 'mpesa', '--branch', 'westlands', '--json')
    expect(ok.code, ok.stderr).toBe(0)
    const bad = join(env.home, 'bad-ck')
    writeFileSync(bad, 'invalid')
    expect(
      (await env.run('gateway', 'setup', 'mpesa', '--branch', 'karen', '--consumer-key-file', bad))
        .code,
    ).toBe(0)
    expect((await env.run('gateway', 'test', 'mpesa', '--branch', 'karen')).code).toBe(7)
    expect(
      (
        await env.run(
          'gateway',
          'setup',
          'mpesa',
          '--branch',
          'karen',
          '--base-url',
          'http://127.0.0.1:1',
          // A new base URL keeps no stored secret: every one is given again.
          '--passkey-file',
          join(env.home, 'pk'),
          '--consumer-key-file',
          bad,
          '--consumer-secret-file',
          join(env.home, 'cs'),
        )
      ).code,
    ).toBe(0)
    const down = await env.run('gateway', 'test', 'mpesa', '--branch', 'karen')
    expect(down.code).toBe(6)
    expect((await env.run('gateway', 'test', 'stripe', '--branch', 'karen')).code).toBe(4)
  })
})
