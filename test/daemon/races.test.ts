import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, createApp } from '../../src/app.js'
import { withActor } from '../../src/context.js'
import { DEFAULT_RECOVERY, runRecovery } from '../../src/payments/recovery.js'
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js'
import { openStore } from '../../src/store/connect.js'
import { DIALECTS } from '../helpers/dialects.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'
import { testRuntime } from '../helpers/run-cli.js'
import { freePort, post, type RunningDaemon, startDaemon, stkCallback, waitFor } from './helpers.js'

/*
 * The races of the payments and daemon work, on SQLite AND PostgreSQL, each with a control that
 * shows the test can fail (the work really overlapped, or each contender alone does move).
 */

interface Payment {
  id: string
  status: string
  receiptNumber: string | null
  checkoutRequestId: string | null
  timeline: { from: string | null; to: string; actor: string; reason: string }[]
}
interface Callback {
  dedupeKey: string
  status: string
  duplicates: number
  paymentId: string | null
}

describe.each(DIALECTS)('races on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('real daemon, real sandbox', () => {
    const env = usePaymentsEnv(name, { callbackDelayMs: 100 })
    const vars = () => ({ DSH_HOME: env.home, DSH_DB: env.db })
    let daemon: RunningDaemon | undefined
    let mpesaUrl = ''
    let app: App
    let appOut: () => { stdout: string; stderr: string }
    let silent: Sandbox | undefined
    const run = (...args: string[]) => env.run(...args)
    const show = async (id: string) => (await run('payments', 'show', id, '--json')).json<Payment>()
    const pay = async (branch: string, amount: string, phone: string) => {
      const r = await run(
        'pay',
        '--branch',
        branch,
        '--amount',
        amount,
        '--currency',
        'KES',
        '--phone',
        phone,
        '--json',
      )
      expect(r.code, r.stderr).toBe(0)
      return r.json<Payment>()
    }
    const succeededMoves = (p: Payment) => p.timeline.filter((e) => e.to === 'succeeded').length

    beforeAll(async () => {
      const port = await freePort()
      // The default recovery schedule: its first check is 30 s after a push, so within these
      // tests only the contenders the tests start move a payment.
      daemon = await startDaemon(vars(), [
        '--port',
        String(port),
        '--public-url',
        `http://127.0.0.1:${port}`,
        '--recovery-interval',
        '1s',
        '--log-level',
        'debug',
      ])
      mpesaUrl = (
        await run('gateway', 'callback-url', 'mpesa', '--branch', 'westlands', '--json')
      ).json<{ url: string }>().url
      const t = testRuntime({ env: vars() })
      app = createApp(t.rt, {})
      appOut = t.out
    })
    afterAll(async () => {
      if (daemon) expect(await daemon.stop()).toBe(0)
      await app?.close()
      await silent?.close()
    })

    it('20 identical callbacks in parallel: one state change, exactly 19 counted duplicates', async () => {
      // The magic phone pays but loses the sandbox's own callback: ours are the only ones.
      const p = await pay('westlands', '150', '0700009001')
      expect(p.status).toBe('pending')
      // The customer pays (its own callback is lost): ours are the only ones.
      await waitFor(
        () => env.sandbox.ledger().some((c) => c.reference === p.checkoutRequestId),
        10_000,
        'the customer to pay',
      )
      const body = stkCallback(p.checkoutRequestId!, {
        amount: '150.00',
        receipt: 'QDUP000001',
        phone: '254700009001',
      })
      const spans: { start: number; end: number; status: number }[] = []
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const start = performance.now()
          const r = await post(mpesaUrl, body)
          spans.push({ start, end: performance.now(), status: r.status })
        }),
      )
      expect(spans.map((s) => s.status)).toEqual(Array(20).fill(200))
      // Control: the 20 really overlapped (all were sent before the first answer came back).
      const firstEnd = Math.min(...spans.map((s) => s.end))
      expect(spans.filter((s) => s.start < firstEnd)).toHaveLength(20)
      const done = await waitFor(
        async () => ((await show(p.id)).status === 'succeeded' ? show(p.id) : undefined),
        10_000,
        'the payment to succeed',
      )
      expect(done.receiptNumber).toBe('QDUP000001')
      expect(succeededMoves(done)).toBe(1)
      const entries = (await run('callbacks', 'list', '--json'))
        .json<Callback[]>()
        .filter((c) => c.dedupeKey === `mpesa:${p.checkoutRequestId}`)
      expect(entries).toEqual([
        expect.objectContaining({ status: 'applied', duplicates: 19, paymentId: p.id }),
      ])
      const metrics = await (await fetch(`${daemon!.url}/metrics`)).text()
      expect(/dsh_callbacks_duplicates_total\{gateway="mpesa"\} (\d+)/.exec(metrics)?.[1]).toBe(
        '19',
      )
    })

    it('a tenant’s token gets 404 for every other tenant’s branches and payments (control: the owner and root get 200)', async () => {
      for (const args of [
        ['tenant', 'add', 'globex', '--name', 'Globex'],
        ['branch', 'add', 'cbd', '--tenant', 'globex', '--name', 'CBD', '--currency', 'KES'],
        ['gateway', 'setup', 'cash', '--tenant', 'globex'],
      ])
        expect((await run(...args)).code).toBe(0)
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
      const globexPayment = g.json<{ id: string }>().id
      const token = async (n: string, role: string, tenant?: string) =>
        (
          await run(
            'token',
            'create',
            '--name',
            n,
            '--role',
            role,
            ...(tenant ? ['--tenant', tenant] : []),
            '--json',
          )
        ).json<{ token: string }>().token
      const acme = await token('acme-admin', 'admin', 'acme')
      const globex = await token('globex-operator', 'operator', 'globex')
      const root = await token('root', 'admin')
      const get = async (path: string, t: string) => {
        const res = await fetch(`${daemon!.url}${path}`, {
          headers: { authorization: `Bearer ${t}` },
        })
        return { status: res.status, text: await res.text() }
      }
      const paths = [
        '/api/branches/cbd/payment-gateways',
        '/api/branches/cbd/settlements',
        `/api/payments/${globexPayment}/status`,
      ]
      for (const path of paths) {
        const r = await get(path, acme)
        expect(r.status, path).toBe(404)
        expect(r.text).not.toContain('globex')
        // Exactly the answer for something that does not exist at all.
        const none = await get(
          path.replace('/cbd/', '/nowhere/').replace(globexPayment, 'pay_nowhere'),
          acme,
        )
        expect(none.status).toBe(404)
        expect(r.text).toBe(
          none.text.replace('"nowhere', '"cbd').replace('pay_nowhere', globexPayment),
        )
      }
      const res = await fetch(`${daemon!.url}/api/payments/process`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${acme}`,
          'content-type': 'application/json',
          'idempotency-key': 'k-x',
        },
        body: JSON.stringify({ branch: 'cbd', amount: '5', currency: 'KES', method: 'cash' }),
      })
      expect(res.status).toBe(404)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
        'branch_not_found',
      )
      // Control: the same requests succeed for the owner and for an unscoped token.
      for (const path of paths) {
        expect((await get(path, globex)).status, path).toBe(200)
        expect((await get(path, root)).status, path).toBe(200)
      }
      const list = (await run('payments', 'list', '--branch', 'cbd', '--json')).json<unknown[]>()
      expect(list).toHaveLength(1)
    })

    it('a callback, the recovery job and payments sync moving one payment at the same moment: one move', async () => {
      const store = await app.store()
      const due = (id: string) =>
        store.db
          .updateTable('payments')
          .set({ next_check_at: new Date(0).toISOString() })
          .where('id', '=', id)
          .execute()
      const recovery = () =>
        runRecovery(withActor(app, 'daemon'), {
          schedule: DEFAULT_RECOVERY,
          actor: 'race:recovery',
        })
      const callback = (p: Payment, amount: string) =>
        post(
          mpesaUrl,
          stkCallback(p.checkoutRequestId!, {
            amount,
            receipt: `QRC${p.id.slice(-7).toUpperCase()}`,
            phone: '254700009001',
          }),
        )
      // Control: each contender alone does move a payment (so one move below means exclusion).
      const [c1, c2, c3] = [
        await pay('westlands', '161', '0700009001'),
        await pay('westlands', '162', '0700009001'),
        await pay('westlands', '163', '0700009001'),
      ]
      // Every customer has paid (the sandbox charged each push) before anyone asks.
      await waitFor(
        () =>
          [c1!, c2!, c3!].every((c) =>
            env.sandbox.ledger().some((ch) => ch.reference === c.checkoutRequestId),
          ),
        10_000,
        'the three control payments to be charged',
      )
      expect((await callback(c1!, '161.00')).status).toBe(200)
      await due(c2!.id)
      expect((await recovery()).resolved).toBe(1)
      const synced = await run('payments', 'sync', c3!.id, '--json')
      expect(synced.code, synced.stderr).toBe(0)
      const alone = await Promise.all(
        [c1!, c2!, c3!].map((c) =>
          waitFor(
            async () => ((await show(c.id)).status === 'succeeded' ? show(c.id) : undefined),
            10_000,
            `control payment ${c.id} to succeed`,
          ),
        ),
      )
      expect(alone.map((p) => p.timeline.at(-1)?.actor)).toEqual([
        'daemon:callback',
        'race:recovery',
        'tester',
      ])

      // The race: five rounds, each payment moved by all three (and a second recovery) at once.
      for (let round = 0; round < 5; round++) {
        const p = await pay('westlands', String(170 + round), '0700009001')
        await waitFor(
          () => env.sandbox.ledger().some((c) => c.reference === p.checkoutRequestId),
          10_000,
          'the customer to pay',
        )
        await due(p.id)
        const [cb, r1, s, r2] = await Promise.all([
          callback(p, `${170 + round}.00`),
          recovery(),
          run('payments', 'sync', p.id, '--json'),
          recovery(),
        ])
        expect(cb.status).toBe(200)
        expect(s.code, s.stderr).toBe(0)
        expect(r1.errors + r2.errors, appOut().stderr).toBe(0)
        // The recovery runs never both claim the payment (none does when the callback or the sync
        // made it final before either run read what is due).
        expect(r1.checked + r2.checked).toBeLessThanOrEqual(1)
        const done = await waitFor(
          async () => ((await show(p.id)).status === 'succeeded' ? show(p.id) : undefined),
          10_000,
          'the payment to succeed',
        )
        // Let the daemon's inbox worker finish with the callback before counting.
        await waitFor(
          async () =>
            (await run('callbacks', 'list', '--json'))
              .json<Callback[]>()
              .find(
                (c) => c.dedupeKey === `mpesa:${p.checkoutRequestId}` && c.status !== 'received',
              ),
          10_000,
          'the callback to be processed',
        )
        // Every contender has returned and the callback is processed: the timeline is final.
        const after = await show(p.id)
        expect(succeededMoves(after), `round ${round}: ${JSON.stringify(done.timeline)}`).toBe(1)
        expect(after.timeline.map((e) => e.to)).toEqual(['created', 'pending', 'succeeded'])
      }
      // One charge per payment in the sandbox (8 here), whatever asked about them.
      expect(env.sandbox.ledger().filter((c) => c.phone === '254700009001')).toHaveLength(9)
    }, 60_000)

    it('lost, late and duplicate callbacks are told apart with the daemon running (receipt, duplicates, timeline)', async () => {
      const entryOf = async (p: Payment) =>
        (await run('callbacks', 'list', '--json'))
          .json<Callback[]>()
          .filter((c) => c.dedupeKey === `mpesa:${p.checkoutRequestId}`)
      const lost = await pay('westlands', '181', '0700009001')
      const late = await pay('westlands', '182', '0700009003')
      const dup = await pay('westlands', '183', '0700009002')
      const duplicated = await waitFor(
        async () => ((await show(dup.id)).status === 'succeeded' ? show(dup.id) : undefined),
        10_000,
        'the duplicated callback to be applied',
      )
      // Three copies: one entry, applied once, two counted duplicates, the receipt it carried.
      await waitFor(
        async () => (await entryOf(dup))[0]?.duplicates === 2,
        10_000,
        'both duplicates to be counted',
      )
      expect(await entryOf(dup)).toEqual([
        expect.objectContaining({ status: 'applied', duplicates: 2, paymentId: dup.id }),
      ])
      const dupCharge = env.sandbox.ledger().find((c) => c.reference === dup.checkoutRequestId)
      expect(duplicated.receiptNumber).toBe(dupCharge!.receipt)
      expect(duplicated.timeline.map((e) => [e.to, e.actor])).toEqual([
        ['created', 'tester'],
        ['pending', 'tester'],
        ['succeeded', 'daemon:callback'],
      ])
      // The late one is still pending, with nothing in the inbox, while its callback is on its way.
      expect((await show(late.id)).status).toBe('pending')
      expect(await entryOf(late)).toEqual([])
      const arrived = await waitFor(
        async () => ((await show(late.id)).status === 'succeeded' ? show(late.id) : undefined),
        15_000,
        'the late callback to be applied',
        200,
      )
      expect(await entryOf(late)).toEqual([
        expect.objectContaining({ status: 'applied', duplicates: 0, paymentId: late.id }),
      ])
      const lateCharge = env.sandbox.ledger().find((c) => c.reference === late.checkoutRequestId)
      expect(arrived.receiptNumber).toBe(lateCharge!.receipt)
      expect(arrived.timeline.at(-1)).toMatchObject({ to: 'succeeded', actor: 'daemon:callback' })
      // The lost one never got a callback: still pending, no inbox entry; a query resolves it,
      // without a receipt (an STK Query carries none).
      expect((await show(lost.id)).status).toBe('pending')
      expect(await entryOf(lost)).toEqual([])
      const synced = await run('payments', 'sync', lost.id, '--json')
      expect(synced.code, synced.stderr).toBe(0)
      const resolved = await show(lost.id)
      expect(resolved.status).toBe('succeeded')
      expect(resolved.receiptNumber).toBeNull()
      expect(resolved.timeline.at(-1)).toMatchObject({ to: 'succeeded', actor: 'tester' })
      expect(await entryOf(lost)).toEqual([])
      // One charge each, whatever arrived how many times.
      for (const p of [lost, late, dup])
        expect(
          env.sandbox.ledger().filter((c) => c.reference === p.checkoutRequestId),
        ).toHaveLength(1)
    }, 30_000)

    it('recovery with every callback dropped: every payment is final or needs_review at the end of the schedule', async () => {
      expect(await daemon!.stop()).toBe(0)
      daemon = undefined
      silent = await startSandbox({ callbackDelayMs: 3_600_000 })
      expect(
        (
          await run(
            'gateway',
            'setup',
            'mpesa',
            '--branch',
            'karen',
            '--base-url',
            silent.url,
            // A new base URL keeps no stored secret: they are given again.
            '--passkey-file',
            `${env.home}/pk`,
            '--consumer-key-file',
            `${env.home}/ck`,
            '--consumer-secret-file',
            `${env.home}/cs`,
          )
        ).code,
      ).toBe(0)
      const dead = await freePort()
      expect((await run('config', 'set', 'public-url', `http://127.0.0.1:${dead}`)).code).toBe(0)
      daemon = await startDaemon(vars(), [
        '--port',
        String(await freePort()),
        '--recovery-interval',
        '1s',
        '--recovery-schedule',
        '1s,2s,3s',
      ])
      const want: [string, string, string][] = [
        ['westlands', '0712345601', 'succeeded'],
        ['westlands', '0712345602', 'succeeded'],
        ['westlands', '0700001032', 'cancelled'],
        ['westlands', '0700000001', 'failed'],
        ['westlands', '0700002001', 'failed'],
        ['westlands', '0700001037', 'failed'],
        ['karen', '0712345603', 'needs_review'],
        ['karen', '0712345604', 'needs_review'],
      ]
      const deliveredBefore = env.sandbox.deliveries().length
      const made: { id: string; want: string }[] = []
      for (const [branch, phone, status] of want)
        made.push({ id: (await pay(branch, '230', phone)).id, want: status })
      const final = ['succeeded', 'failed', 'cancelled', 'needs_review']
      const done = await waitFor(
        async () => {
          const all = await Promise.all(made.map((m) => show(m.id)))
          return all.every((p) => final.includes(p.status)) ? all : undefined
        },
        20_000,
        'every payment to be final or need review',
        200,
      )
      expect(done.map((p) => p.status)).toEqual(made.map((m) => m.want))
      for (const p of done) {
        expect(p.timeline.at(-1)?.actor).toBe('daemon:recovery')
        expect(p.timeline.filter((e) => final.includes(e.to))).toHaveLength(1)
      }
      // Control: the callbacks really were dropped (6 westlands pushes, none reached a daemon).
      const dropped = env.sandbox.deliveries().slice(deliveredBefore)
      expect(dropped).toHaveLength(6)
      expect(dropped.every((d) => d.status === undefined && d.url.includes(`:${dead}/`))).toBe(true)
      // Karen's two payments were asked at most once per scheduled check (a late run under load
      // skips a check whose time has passed; none is ever asked twice).
      const asked = silent.requests().filter((q) => q.path === '/mpesa/stkpushquery/v1/query')
      expect(asked.length).toBeGreaterThanOrEqual(2)
      expect(asked.length).toBeLessThanOrEqual(2 * 3)
    }, 40_000)

    it('a daemon that starts after a tick finished never re-runs it (control: it runs the ticks nobody claimed)', async () => {
      expect(await daemon!.stop()).toBe(0)
      daemon = undefined
      const store = await openStore(env.db)
      try {
        const seen = await store.db
          .selectFrom('job_ticks')
          .select(['tick', 'finished_at'])
          .where('job', '=', 'recovery')
          .orderBy('tick', 'desc')
          .limit(1)
          .executeTakeFirstOrThrow()
        expect(seen.tick).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/)
        expect(seen.finished_at).not.toBeNull()
        // Another daemon ran and finished every recovery tick of the next 4 s.
        const base = Math.ceil(Date.now() / 1000) * 1000
        const taken = Array.from({ length: 4 }, (_, i) => new Date(base + i * 1000).toISOString())
        for (const tick of taken)
          await store.db
            .insertInto('job_ticks')
            .values({
              job: 'recovery',
              tick,
              owner: 'earlier-daemon',
              started_at: tick,
              finished_at: tick,
              outcome: 'done',
            })
            .execute()
        daemon = await startDaemon(vars(), [
          '--port',
          String(await freePort()),
          '--recovery-interval',
          '1s',
          '--log-level',
          'debug',
        ])
        const late = daemon
        const lastTaken = Date.parse(taken.at(-1)!)
        const ran = () =>
          late.logs
            .filter((l) => l.msg === 'job.run' && l['job'] === 'recovery')
            .map((l) => String(l['tick']))
        await waitFor(
          () => ran().some((t) => Date.parse(t) > lastTaken + 1000),
          15_000,
          'the late daemon to run a tick after the claimed ones',
        )
        const skipped = late.logs
          .filter((l) => l.msg === 'job.skip' && l['job'] === 'recovery')
          .map((l) => String(l['tick']))
        for (const tick of taken) expect(ran(), tick).not.toContain(tick)
        // The claimed ticks it lived through were seen and skipped, not silently missed.
        const lived = taken.filter((t) => skipped.includes(t))
        expect(lived.length).toBeGreaterThan(0)
        const rows = await store.db
          .selectFrom('job_ticks')
          .select(['tick', 'owner'])
          .where('job', '=', 'recovery')
          .where('tick', 'in', taken)
          .execute()
        expect(rows.map((r) => r.owner)).toEqual(Array(4).fill('earlier-daemon'))
        // Control: the ticks nobody claimed were run, by this daemon, once each.
        const own = ran().filter((t) => Date.parse(t) > lastTaken)
        expect(own.length).toBeGreaterThan(0)
        expect(new Set(own).size).toBe(own.length)
      } finally {
        await store.close()
      }
      // 11 s at a load of 18 on 2 cores (two daemons, real recovery ticks): over 3× its quiet time.
    }, 90_000)
  })
})
