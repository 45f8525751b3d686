import { describe, expect, it } from 'vitest'
import { pay } from '../../src/payments/pay.js'
import { dsh } from '../helpers/cli.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'

interface Payment {
  id: string
  status: string
  replayed: boolean
}

const env = usePaymentsEnv('sqlite', { callbackDelayMs: 50 })

describe('concurrency', () => {
  it('the same idempotency key replayed 10 times at once, from 10 processes: one payment, one charge', async () => {
    const envVars = { DSH_HOME: env.home, DSH_DB: env.db }
    const args = [
      'pay',
      '--branch',
      'westlands',
      '--amount',
      '4,321',
      '--currency',
      'KES',
      '--phone',
      '0712345678',
      '--order',
      'K-10',
      '--idempotency-key',
      'k-10x',
      '--json',
    ]
    const before = env.sandbox.ledger().length
    const results = await Promise.all(
      Array.from({ length: 10 }, () => dsh(args, { env: envVars, timeoutMs: 30_000 })),
    )
    for (const r of results) expect(r.code, r.stderr).toBe(0)
    const ids = new Set(results.map((r) => r.json<Payment>().id))
    expect(ids.size).toBe(1)
    expect(results.filter((r) => !r.json<Payment>().replayed)).toHaveLength(1)
    await new Promise((r) => setTimeout(r, 300))
    const list = (await env.run('payments', 'list', '--json')).json<
      { idempotencyKey: string | null }[]
    >()
    expect(list.filter((p) => p.idempotencyKey === 'k-10x')).toHaveLength(1)
    expect(env.sandbox.ledger().slice(before)).toHaveLength(1)
  })

  it('load: 1,000 payments across 3 branches with 100 in flight, through the core the CLI uses', async () => {
    for (const args of [
      ['branch', 'add', 'kilimani', '--tenant', 'acme', '--name', 'Kilimani', '--currency', 'KES'],
      ['gateway', 'migrate', '--tenant', 'acme'],
    ])
      expect((await env.run(...args)).code).toBe(0)
    const { createApp } = await import('../../src/app.js')
    const { testRuntime } = await import('../helpers/run-cli.js')
    // kilimani inherits nothing yet for M-Pesa; give it the same sandbox set-up as karen.
    const karen = (await env.run('gateway', 'show', 'mpesa', '--branch', 'karen', '--json')).json<{
      settings: Record<string, string>
    }>()
    const pk = `${env.home}/pk`
    const setup = await env.run(
      'gateway',
      'setup',
      'mpesa',
      '--branch',
      'kilimani',
      '--account-type',
      'paybill',
      '--shortcode',
      '174379',
      '--paybill-number',
      '174379',
      '--passkey-file',
      pk,
      '--consumer-key-file',
      `${env.home}/ck`,
      '--consumer-secret-file',
      `${env.home}/cs`,
      '--base-url',
      karen.settings['baseUrl'] ?? '',
    )
    expect(setup.code, setup.stderr).toBe(0)
    // Under 100 in flight a 1 s read timeout is too tight for a loaded 2-core machine.
    for (const b of ['westlands', 'karen'])
      expect(
        (await env.run('gateway', 'setup', 'mpesa', '--branch', b, '--read-timeout', '30')).code,
      ).toBe(0)
    env.sandbox.reset()
    const app = createApp(testRuntime({ env: { DSH_HOME: env.home, DSH_DB: env.db } }).rt, {})
    const branches = ['westlands', 'karen', 'kilimani']
    const total = 1000
    let next = 0
    const statuses: string[] = []
    const ids = new Set<string>()
    const worker = async () => {
      for (;;) {
        const i = next++
        if (i >= total) return
        const r = await pay(app, {
          branch: branches[i % 3],
          amount: String(100 + (i % 50)),
          currency: 'KES',
          phone: `07${String(10_000_000 + i).slice(-8)}`,
          orderId: `L-${i}`,
          idempotencyKey: `load-${i}`,
        })
        ids.add(r.payment.id)
        statuses.push(r.payment.status)
      }
    }
    const started = Date.now()
    await Promise.all(Array.from({ length: 100 }, worker))
    const elapsed = Date.now() - started
    expect(ids.size).toBe(total)
    const counts: Record<string, number> = {}
    for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1
    expect(counts).toEqual({ pending: total })
    // Let every simulated customer act, then resolve every payment by querying.
    await new Promise((r) => setTimeout(r, 500))
    const { syncStale } = await import('../../src/payments/sync.js')
    const store = await app.store()
    await store.db
      .updateTable('payments')
      .set({ next_check_at: new Date(0).toISOString() })
      .where('status', '=', 'pending')
      .execute()
    await syncStale(app, 2000)
    const rows = await store.db
      .selectFrom('payments')
      .select(['status'])
      .where('order_id', 'like', 'L-%')
      .execute()
    const succeeded = rows.filter((r) => r.status === 'succeeded').length
    expect(rows).toHaveLength(total)
    expect(succeeded).toBe(total)
    expect(env.sandbox.ledger()).toHaveLength(succeeded)
    await app.close()
    console.log(
      `load: ${total} payments in ${elapsed} ms (${Math.round((total * 1000) / elapsed)}/s) with 100 in flight`,
    )
  }, 120_000)
})
