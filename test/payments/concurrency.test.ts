import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { pay } from '../../src/payments/pay.js'
import { dsh } from '../helpers/cli.js'
import { DIALECTS } from '../helpers/dialects.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'
import { pgAvailable } from '../helpers/pg.js'
import { waitFor } from '../helpers/wait.js'

interface Payment {
  id: string
  status: string
  replayed: boolean
}

describe.each(DIALECTS)('idempotency races on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('concurrency', () => {
    const env = usePaymentsEnv(name, { callbackDelayMs: 50 })

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
      await waitFor(() => env.sandbox.pending() === 0, 10_000, 'the sandbox to be idle')
      const list = (await env.run('payments', 'list', '--json')).json<
        { idempotencyKey: string | null }[]
      >()
      expect(list.filter((p) => p.idempotencyKey === 'k-10x')).toHaveLength(1)
      expect(env.sandbox.ledger().slice(before)).toHaveLength(1)
      // 11 s at a load of 18 on 2 cores (10 dsh processes at once): over 3× its quiet time.
    }, 90_000)

    it('control: the same 10 processes without a key make 10 payments and 10 charges (they do overlap)', async () => {
      const envVars = { DSH_HOME: env.home, DSH_DB: env.db }
      const before = env.sandbox.ledger().length
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          dsh(
            [
              'pay',
              '--branch',
              'westlands',
              '--amount',
              String(5_000 + i),
              '--currency',
              'KES',
              '--phone',
              '0712345678',
              '--json',
            ],
            { env: envVars, timeoutMs: 30_000 },
          ),
        ),
      )
      for (const r of results) expect(r.code, r.stderr).toBe(0)
      expect(new Set(results.map((r) => r.json<Payment>().id)).size).toBe(10)
      // The processes ran at the same time: their payments were created within one window.
      const created = await Promise.all(
        results.map(
          async (r) =>
            (await env.run('payments', 'show', r.json<Payment>().id, '--json')).json<{
              createdAt: string
            }>().createdAt,
        ),
      )
      const times = created.map((t) => Date.parse(t)).sort((a, b) => a - b)
      expect(times.at(-1)! - times[0]!).toBeLessThan(10_000)
      await waitFor(() => env.sandbox.pending() === 0, 10_000, 'the sandbox to be idle')
      expect(env.sandbox.ledger().slice(before)).toHaveLength(10)
      // 27 s at a load of 18 on 2 cores (10 dsh processes at once): over 3× its quiet time.
    }, 90_000)
  })
})

describe.runIf(pgAvailable())('the unique-violation replay path of pay on PostgreSQL', () => {
  const env = usePaymentsEnv('postgres', { callbackDelayMs: 50 })
  const flags = {
    branch: 'westlands',
    amount: '2,468',
    currency: 'KES',
    phone: '0712345678',
    order: 'U-1',
    idempotencyKey: 'k-unique',
  }

  /**
   * Another writer's transaction holds a payment and this idempotency key, uncommitted, while
   * pay() runs: pay sees no key (before and inside its transaction), inserts its own and blocks
   * on the unique index until the other transaction ends.
   */
  async function race(end: 'commit' | 'rollback', key: string) {
    const { createApp } = await import('../../src/app.js')
    const { testRuntime } = await import('../helpers/run-cli.js')
    const { openStore } = await import('../../src/store/connect.js')
    const { findBranchByCode } = await import('../../src/tenants/branches-store.js')
    const { parsePayRequest } = await import('../../src/payments/pay-input.js')
    const { requestFingerprint } = await import('../../src/core/payments/fingerprint.js')
    const app = createApp(testRuntime({ env: { DSH_HOME: env.home, DSH_DB: env.db } }).rt, {})
    const other = await openStore(env.db)
    const request = { ...flags, idempotencyKey: key }
    try {
      const branch = (await findBranchByCode(other.db, 'westlands'))!
      const fingerprint = requestFingerprint({
        ...parsePayRequest(request),
        branch: branch.code,
      })
      const plantedId = `pay_other_${key}`
      let release!: () => void
      const gate = new Promise<void>((r) => {
        release = r
      })
      let inTrx!: () => void
      const holding = new Promise<void>((r) => {
        inTrx = r
      })
      const writer = other.db
        .transaction()
        .execute(async (trx) => {
          const now = new Date().toISOString()
          await trx
            .insertInto('payments')
            .values({
              id: plantedId,
              tenant_id: branch.tenant_id,
              branch_id: branch.id,
              order_id: 'U-1',
              amount_minor: 246_800n,
              currency: 'KES',
              refunded_minor: 0n,
              method: 'mpesa',
              customer_type: 'standard',
              phone: '254712345678',
              gateway: 'mpesa',
              status: 'pending',
              failure_code: null,
              failure_message: null,
              routing: '{}',
              idempotency_key: key,
              receipt_number: null,
              gateway_ref: null,
              fee_minor: null,
              fee_rate_bp: null,
              fee_flat_minor: null,
              fee_currency: null,
              settlement_status: 'unsettled',
              settlement_batch_id: null,
              next_check_at: null,
              check_count: 0,
              created_at: now,
              updated_at: now,
              completed_at: null,
            })
            .execute()
          await trx
            .insertInto('idempotency_keys')
            .values({
              tenant_id: branch.tenant_id,
              key,
              fingerprint,
              payment_id: plantedId,
              created_at: now,
            })
            .execute()
          inTrx()
          await gate
          if (end === 'rollback') throw new Error('rolled back on purpose')
        })
        .catch((e: Error) => {
          if (e.message !== 'rolled back on purpose') throw e
        })
      await holding
      const pushesBefore = env.sandbox.requests().length
      let settled = false
      const paying = pay(app, request).finally(() => {
        settled = true
      })
      // pay is blocked on the unique index (it got past both of its key checks): PostgreSQL
      // shows a session of this database waiting for a lock.
      const store = await app.store()
      await waitFor(
        async () => {
          const r = await sql<{ n: string }>`select count(*) as n from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock'`.execute(store.db)
          return Number(r.rows[0]?.n) > 0
        },
        10_000,
        'pay to wait on the unique index',
      )
      expect(settled).toBe(false)
      release()
      await writer
      const result = await paying
      return { result, plantedId, pushes: env.sandbox.requests().length - pushesBefore }
    } finally {
      await other.close()
      await app.close()
    }
  }

  it('a key committed by another writer while pay inserts it: the unique violation replays that payment', async () => {
    const { result, plantedId, pushes } = await race('commit', 'k-unique-1')
    expect(result.replayed).toBe(true)
    expect(result.payment.id).toBe(plantedId)
    expect(result.payment.status).toBe('pending')
    expect(pushes).toBe(0)
    const list = (await env.run('payments', 'list', '--json')).json<
      { id: string; idempotencyKey: string | null }[]
    >()
    expect(list.filter((p) => p.idempotencyKey === 'k-unique-1').map((p) => p.id)).toEqual([
      plantedId,
    ])
  })

  it('control: when the other writer rolls back, the blocked pay goes on and makes its own payment', async () => {
    const { result, plantedId, pushes } = await race('rollback', 'k-unique-2')
    expect(result.replayed).toBe(false)
    expect(result.payment.id).not.toBe(plantedId)
    expect(result.payment.status).toBe('pending')
    expect(pushes).toBeGreaterThan(0)
  })
})

const env = usePaymentsEnv('sqlite', { callbackDelayMs: 50 })

describe('load', () => {
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
    // Every simulated customer has acted (each push charged or refused), then resolve every
    // payment by querying.
    await waitFor(
      () => env.sandbox.ledger().length + env.sandbox.failures().length >= total,
      30_000,
      `the ${total} customers to answer their pushes`,
    )
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
    // 87 s at a load of 18 on 2 cores: over 3× its quiet time.
  }, 300_000)
})
