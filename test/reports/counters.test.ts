import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { openStore, type Store } from '../../src/store/connect.js'
import { freePort, type RunningDaemon, startDaemon, waitFor } from '../daemon/helpers.js'
import { DIALECTS } from '../helpers/dialects.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'

/**
 * The counters behind /metrics, health and report (kept by the store's triggers in the same
 * transaction as each move) equal a full count after a load through the real code paths — pay
 * via the sandbox, callbacks applied by a real daemon that is killed with SIGKILL mid-load and
 * restarted, recovery, settlement runs, a failed batch released and retried, a completed one —
 * and a move made around them is found by `dsh doctor` and repaired.
 */

const N = Number(process.env['DSH_COUNTERS_LOAD'] ?? 1000)
const LANES = 8

interface Payment {
  id: string
  status: string
}
const FINAL = ['succeeded', 'failed', 'cancelled', 'refunded', 'needs_review']
interface Batch {
  id: string
  gateway: string
  status: string
}
interface Doctor {
  ok: boolean
  violations: string[]
  counters: { ok: boolean; keys: number; mismatches: string[]; repaired?: number }
}

/** The test's own full count (not src/): payments by status × gateway, and pending settlement. */
async function fullCount(store: Store) {
  const byStatus = await sql<{ status: string; gateway: string; n: number | string }>`
    select status, coalesce(gateway, 'none') as gateway, count(*) as n from payments
    group by status, coalesce(gateway, 'none')`.execute(store.db)
  const pending = await sql<{ branch: string; currency: string; total: number | string }>`
    select b.code as branch, p.currency as currency, sum(p.amount_minor) as total
    from payments p join branches b on b.id = p.branch_id
    where p.status = 'succeeded' and p.settlement_status = 'unsettled'
    group by b.code, p.currency`.execute(store.db)
  const inbox = await sql<{ status: string; gateway: string; n: number | string }>`
    select status, gateway, count(*) as n from callback_inbox group by status, gateway`.execute(
    store.db,
  )
  return {
    payments: Object.fromEntries(
      byStatus.rows.map((r) => [`status="${r.status}",gateway="${r.gateway}"`, String(r.n)]),
    ),
    pending: Object.fromEntries(
      pending.rows.map((r) => [`branch="${r.branch}",currency="${r.currency}"`, String(r.total)]),
    ),
    inbox: Object.fromEntries(
      inbox.rows.map((r) => [`status="${r.status}",gateway="${r.gateway}"`, String(r.n)]),
    ),
  }
}

/** The next calendar day (in Nairobi, the branches' zone): its cut-off is after every payment. */
const tomorrow = (k = 1) =>
  new Date(Date.now() + (3 + 24 * k) * 3_600_000).toISOString().slice(0, 10)

/** One gauge family of a /metrics scrape, label text → value. */
function family(text: string, name: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}\\{(.*)\\} (\\S+)$`).exec(line)
    if (m) out[m[1]!] = m[2]!
  }
  return out
}

describe.each(DIALECTS)('counters on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('store', () => {
    const env = usePaymentsEnv(name, { callbackDelayMs: 30 })

    it(`equal a full count after ${N} payments, a kill -9 of the daemon mid-load, settlement runs, a failed and a retried batch`, async () => {
      const vars = { DSH_HOME: env.home, DSH_DB: env.db }
      const port = await freePort()
      const args = [
        '--port',
        String(port),
        '--public-url',
        `http://127.0.0.1:${port}`,
        '--recovery-interval',
        '1s',
        '--recovery-schedule',
        '1s,2s,3s,4s',
      ]
      const account = await env.run(
        'branch',
        'settlement-account',
        'westlands',
        '--account-name',
        'Westlands Ltd',
        '--account-number',
        '0011223344',
        '--bank-name',
        'KCB',
        '--bank-code',
        '01',
        '--holding-hours',
        '0',
      )
      expect(account.code, account.stderr).toBe(0)
      const collection = await env.run(
        'tenant',
        'collection-account',
        'acme',
        '--currency',
        'KES',
        '--account-name',
        'Acme Collections',
        '--account-number',
        '0100200300',
        '--bank-name',
        'KCB',
      )
      expect(collection.code, collection.stderr).toBe(0)
      let daemon: RunningDaemon = await startDaemon(vars, args)
      let next = 0
      let runs = 0
      let killed = false
      let restarted = false
      const ids: string[] = []
      const unknown: string[] = []
      const lane = async () => {
        for (;;) {
          const i = next++
          if (i >= N) return
          if (!killed && i >= N / 3) {
            killed = true
            daemon.proc.kill('SIGKILL')
            expect(await daemon.exited).toBe('SIGKILL')
          }
          if (killed && !restarted && i >= N / 2) {
            restarted = true
            daemon = await startDaemon(vars, args)
          }
          const branch = i % 4 === 3 ? 'karen' : 'westlands'
          const amount = String(100 + (i % 37))
          let how: string[]
          if (branch === 'westlands' && i % 9 === 0) how = ['--method', 'cash']
          else if (branch === 'westlands' && i % 11 === 0)
            how = [
              '--method',
              'card',
              '--payment-method',
              i % 22 === 0 ? 'pm_card_chargeDeclined' : 'pm_card_visa',
            ]
          else if (i % 17 === 0)
            how = ['--phone', '0700001037'] // failed
          else if (i % 19 === 0)
            how = ['--phone', '0700001032'] // cancelled
          else how = ['--phone', `0712${String(i).padStart(6, '0')}`]
          const r = await env.run(
            'pay',
            '--branch',
            branch,
            '--amount',
            amount,
            '--order',
            `ord-${i}`,
            ...how,
            '--json',
          )
          if (r.code === 0 || r.code === 8) ids.push(r.json<Payment>().id)
          else if (r.code === 6) {
            // The gateway left it unknown (an M-Pesa read timeout on a busy machine): a payment
            // all the same, resolved below.
            const p = r.json<Payment>()
            expect(p.status, r.stderr).toBe('unknown')
            expect(r.stderr).toContain(`dsh payments sync ${p.id}`)
            ids.push(p.id)
            unknown.push(p.id)
          } else expect.fail(`pay ${i}: exit ${r.code}: ${r.stderr}`)
          // A settlement run now and then, while payments keep moving.
          if (i > 0 && i % Math.max(1, Math.floor(N / 4)) === 0) {
            const s = await env.run(
              'settle',
              '--branch',
              'westlands',
              '--date',
              tomorrow(++runs),
              '--json',
            )
            expect([0, 8], s.stderr).toContain(s.code)
          }
        }
      }
      await Promise.all(Array.from({ length: LANES }, lane))
      console.log(`payments left unknown by the gateway, then resolved: ${unknown.length}`)
      expect(killed && restarted, 'the daemon was killed and restarted mid-load').toBe(true)
      expect(ids).toHaveLength(N)

      const store = await openStore(env.db)
      try {
        // Each payment left unknown is resolved by asking the gateway (dsh payments sync) until
        // it answers: exit 0 and a final status.
        for (const id of unknown) {
          await waitFor(
            async () => {
              const s = await env.run('payments', 'sync', id, '--json')
              return s.code === 0 && FINAL.includes(s.json<Payment>().status)
            },
            60_000,
            `unknown payment ${id} to be resolved`,
            500,
          )
        }
        // Every payment reaches a final state: by its callback, or by the daemon's recovery.
        await waitFor(
          async () => {
            const open = await sql<{ n: number | string }>`
              select count(*) as n from payments
              where status in ('created', 'pending', 'unknown')`.execute(store.db)
            return Number(open.rows[0]?.n) === 0
          },
          120_000,
          'every payment to be final',
          500,
        )
        // Settlement: a run, one batch failed (released), retried, the other completed.
        const run = await env.run(
          'settle',
          '--branch',
          'westlands',
          '--date',
          tomorrow(++runs),
          '--json',
        )
        expect([0, 8], run.stdout + run.stderr).toContain(run.code)
        const batches = (
          await env.run('settlements', 'list', '--branch', 'westlands', '--json')
        ).json<Batch[]>()
        const live = batches.filter((b) => b.status === 'processing')
        expect(live.length, JSON.stringify(batches)).toBeGreaterThanOrEqual(2)
        const failed = await env.run('settlements', 'fail', live[0]!.id, '--reason', 'closed')
        expect(failed.code, failed.stderr).toBe(0)
        const retried = await env.run('settlements', 'retry', live[0]!.id, '--json')
        expect(retried.code, retried.stderr).toBe(0)
        const done = await env.run('settlements', 'complete', live[1]!.id, '--bank-ref', 'FT-9')
        expect(done.code, done.stderr).toBe(0)

        const counts = await sql<{ status: string; n: number | string }>`
          select status, count(*) as n from payments group by status`.execute(store.db)
        const by = Object.fromEntries(counts.rows.map((r) => [r.status, Number(r.n)]))
        expect(by['succeeded']).toBeGreaterThan(N / 2)
        expect(by['failed']).toBeGreaterThan(0)
        expect(by['cancelled']).toBeGreaterThan(0)

        // The doctor's full count agrees with every counter.
        const doctor = await env.run('doctor', '--json')
        expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0)
        const d = doctor.json<Doctor>()
        expect(d.counters.mismatches).toEqual([])
        expect(d.counters.keys).toBeGreaterThan(10)

        // What /metrics shows is the test's own full count, once both have settled: /metrics has a
        // short cache, and the daemon's worker may still be applying late callbacks (an inbox
        // entry moving from received to processed between a count and a scrape, 8 entries once on
        // PostgreSQL). So the count is taken afresh on every try, and all three families must agree.
        const scrape = async () => (await fetch(`${daemon.url}/metrics`)).text()
        const families = (t: string) => ({
          payments: family(t, 'dsh_payments'),
          pending: family(t, 'dsh_settlement_pending_minor'),
          inbox: family(t, 'dsh_inbox_entries'),
        })
        const observe = async () => {
          const want = await fullCount(store)
          const got = families(await scrape())
          return {
            want: { payments: want.payments, pending: want.pending, inbox: want.inbox },
            got,
          }
        }
        const seen = await waitFor(
          async () => {
            const o = await observe()
            const canon = (f: Record<string, string>) => JSON.stringify(Object.entries(f).sort())
            const same = (['payments', 'pending', 'inbox'] as const).every(
              (k) => canon(o.got[k]) === canon(o.want[k]),
            )
            return same ? o : undefined
          },
          20_000,
          '/metrics to show the full count',
        ).catch(observe)
        expect(seen.got).toEqual(seen.want)
      } finally {
        await store.close()
        await daemon.stop()
      }
    }, 600_000)

    it('control: a move made around the counters is found by dsh doctor (exit 8) and repaired', async () => {
      const store = await openStore(env.db)
      try {
        const p = await store.db
          .selectFrom('payments')
          .select(['id', 'branch_id'])
          .where('status', '=', 'failed')
          .executeTakeFirstOrThrow()
        // The planted move: a status change with the counters' update trigger switched off.
        await store.write(async (trx) => {
          if (name === 'postgres') {
            await sql`alter table payments disable trigger payments_counters_update`.execute(trx)
            await sql`update payments set status = 'succeeded' where id = ${p.id}`.execute(trx)
            await sql`alter table payments enable trigger payments_counters_update`.execute(trx)
          } else {
            const t = await sql<{ sql: string }>`
              select sql from sqlite_master where name = 'payments_counters_update'`.execute(trx)
            await sql`drop trigger payments_counters_update`.execute(trx)
            await sql`update payments set status = 'succeeded' where id = ${p.id}`.execute(trx)
            await sql.raw(t.rows[0]!.sql).execute(trx)
          }
        })
        const found = await env.run('doctor', '--json')
        expect(found.code).toBe(8)
        const d = found.json<Doctor>()
        expect(d.ok).toBe(false)
        expect(d.counters.ok).toBe(false)
        expect(d.counters.mismatches.length).toBeGreaterThanOrEqual(2)
        expect(d.counters.mismatches[0]).toMatch(/^payment counter of (westlands|karen) /)
        expect(found.stderr).toContain('dsh doctor --repair-counters')

        const repair = await env.run('doctor', '--repair-counters', '--json')
        expect(repair.code, repair.stdout + repair.stderr).toBe(0)
        expect(repair.json<Doctor>().counters).toMatchObject({
          ok: true,
          mismatches: [],
          repaired: d.counters.mismatches.length,
        })
        expect((await env.run('doctor')).code).toBe(0)
        expect((await env.run('audit', 'verify')).code).toBe(0)
        const trail = await env.run('audit', 'list', '--action', 'counters.rebuild', '--json')
        expect(trail.json<unknown[]>()).toHaveLength(1)
      } finally {
        await store.close()
      }
    }, 120_000)
  })
})
