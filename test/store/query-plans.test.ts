import { EventEmitter } from 'node:events'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.js'
import { listAuditRows } from '../../src/audit/audit-store.js'
import { listInbox } from '../../src/callbacks/inbox-store.js'
import { parseDaemonOptions, runDaemon } from '../../src/daemon/index.js'
import { listPayments } from '../../src/payments/payments-store.js'
import { DEFAULT_RECOVERY, runRecovery } from '../../src/payments/recovery.js'
import { post, stkCallback, waitFor } from '../daemon/helpers.js'
import { DIALECTS } from '../helpers/dialects.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'
import {
  type CapturedQuery,
  capturing,
  distinctQueries,
  installQueryCapture,
  type PlanViolation,
  pgPlanViolations,
  sqlitePlanViolations,
} from '../helpers/query-plans.js'
import { type Seed, seedPayments } from '../helpers/recon-env.js'
import { testRuntime } from '../helpers/run-cli.js'

// Issue 16 item 2: every query the daemon's request paths, the recovery job and the list commands
// issue reads the growing tables (payments, payment_attempts, callback_inbox, events, audit_log)
// through an index or a bounded page. Issue 24 item 5: so do the settlement run and commands, the
// statement import, `reconcile run`, `report`, `health` and the dashboard's routes, over
// statement_lines, recon_matches, recon_discrepancies and the settlement tables too; a scan of a
// partial index passes only where the query asks for the index's own predicate. The queries are captured at the drivers while the real code
// runs (CLI commands in-process, the daemon in-process over real HTTP, the recovery job), then
// explained on the same store.

installQueryCapture()

// The golden month's first payments (succeeded, with receipts) and its M-Pesa statement.
const GOLDEN = fileURLToPath(new URL('../../fixtures/statements/golden/', import.meta.url))
const GOLDEN_SEEDS = (JSON.parse(readFileSync(`${GOLDEN}payments.json`, 'utf8')) as Seed[]).slice(
  0,
  40,
)

const explain = (
  dialect: 'sqlite' | 'postgres',
  db: string,
  qs: readonly CapturedQuery[],
  all: readonly CapturedQuery[] = [],
) =>
  dialect === 'sqlite'
    ? Promise.resolve(sqlitePlanViolations(db, qs, all))
    : pgPlanViolations(db, qs)

const describeViolations = (v: readonly PlanViolation[]) =>
  v.map((x) => `during ${x.during.join(', ')}:\n  ${x.sql}\n  plan: ${x.plan}`).join('\n\n')

describe.each(DIALECTS)('hot-path query plans ($name)', ({ name, enabled }) => {
  describe.runIf(enabled)('every hot query is indexed or bounded', () => {
    const env = usePaymentsEnv(name, { callbackDelayMs: 60_000 })
    const captured: CapturedQuery[] = []
    /** Runs a command with its queries captured; `codes` are the exits it may give (8: findings). */
    const cliExits = async (codes: number[], ...args: string[]) => {
      let out = ''
      await capturing(`dsh ${args.join(' ')}`, captured, async () => {
        const r = await env.run(...args)
        expect(codes, `${args.join(' ')} exited ${r.code}: ${r.stderr}`).toContain(r.code)
        out = r.stdout
      })
      return out
    }
    const cli = (...args: string[]) => cliExits([0], ...args)

    it('payments, callbacks, audit lists; settlement, reconciliation, report, health; the daemon’s request paths and dashboard; the recovery job', async () => {
      // Some traffic first (not what is checked: paying is checked through the API below).
      const ids: string[] = []
      for (const [i, phone] of ['0712345678', '0712345679', '0712345680'].entries()) {
        const r = await env.run(
          'pay',
          '--branch',
          'westlands',
          '--amount',
          String(100 + i),
          '--phone',
          phone,
          '--order',
          `QP-${i}`,
          '--json',
        )
        expect(r.code, r.stderr).toBe(0)
        ids.push(r.json<{ id: string }>().id)
      }
      const token = (
        await env.run('token', 'create', '--name', `qp-${name}`, '--role', 'admin', '--json')
      ).json<{ token: string }>().token
      const cbUrl = (
        await env.run('gateway', 'callback-url', 'mpesa', '--branch', 'westlands', '--json')
      ).json<{ url: string }>().url

      // The list commands, each filter.
      await cli('payments', 'list')
      await cli('payments', 'list', '--json')
      await cli('payments', 'list', '--branch', 'westlands')
      await cli('payments', 'list', '--status', 'pending')
      await cli('payments', 'list', '--gateway', 'mpesa')
      await cli('payments', 'list', '--since', '2020-01-01T00:00:00Z')
      await cli('payments', 'list', '--branch', 'westlands', '--status', 'pending')
      await cli('payments', 'list', '--all', '--json')
      await cli('payments', 'sync', '--stale')
      await cli('payments', 'show', ids[0]!)
      await cli('callbacks', 'list')
      await cli('callbacks', 'list', '--branch', 'westlands')
      await cli('callbacks', 'list', '--status', 'unmatched')
      await cli('callbacks', 'list', '--since', '2020-01-01T00:00:00Z')
      await cli('callbacks', 'list', '--gateway', 'mpesa')
      await cli('callbacks', 'list', '--all', '--json')
      // The keyset pages `--all` reads after the first (this store holds less than a page, so
      // they are asked for directly, with the same functions and a cursor).
      await capturing('keyset pages', captured, async () => {
        const db = (await env.app.store()).db
        const last = (await listPayments(db, { limit: 1 }))[0]!
        await listPayments(db, { limit: 500, last })
        await listPayments(db, { limit: 500, last, status: 'pending' })
        await listPayments(db, { limit: 500, last, branchId: last.branch_id })
        const entry = (await listInbox(db, { limit: 1 }))[0]!
        await listInbox(db, { limit: 500, last: entry })
        await listAuditRows(db, { limit: 500, afterSeq: 1 })
      })
      await cli('audit', 'list')
      await cli('audit', 'list', '--branch', 'westlands')
      await cli('audit', 'list', '--since', '2020-01-01T00:00:00Z')
      await cli('audit', 'list', '--all', '--json')

      // Settlement and reconciliation over the golden month's first payments (settled, then
      // matched against its M-Pesa statement); the reports and health read them all.
      await seedPayments({ DSH_HOME: env.home, DSH_DB: env.db }, 'westlands', GOLDEN_SEEDS)
      const account = await env.run(
        'branch',
        'settlement-account',
        'westlands',
        '--account-name',
        'Westlands Ltd',
        '--account-number',
        '0123456789',
        '--bank-name',
        'KCB',
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
        '9876543210',
        '--bank-name',
        'KCB',
      )
      expect(collection.code, collection.stderr).toBe(0)
      const settled = JSON.parse(await cli('settle', '--branch', 'westlands', '--json')) as {
        batches?: { id: string }[]
      }
      const batchId = settled.batches?.[0]?.id
      expect(batchId, 'a settlement batch').toBeTruthy()
      await cli('settlements', 'list')
      await cli('settlements', 'list', '--branch', 'westlands', '--status', 'pending')
      await cli('settlements', 'show', batchId!)
      await cli('settlements', 'next')
      await cli('settle', '--branch', 'westlands', '--dry-run')
      await cli(
        'reconcile',
        'import',
        `${GOLDEN}mpesa.csv`,
        '--branch',
        'westlands',
        '--profile',
        'mpesa',
      )
      const recon = JSON.parse(
        await cliExits([0, 8], 'reconcile', 'run', '--branch', 'westlands', '--json'),
      ) as { id?: string; runId?: string }
      await cliExits([0, 8], 'reconcile', 'run', '--branch', 'westlands', '--dry-run')
      const runId = recon.runId ?? recon.id
      expect(runId, 'a reconciliation run id').toBeTruthy()
      await cliExits([0, 8], 'reconcile', 'report', runId!, '--format', 'json')
      await cli('report', '--json')
      await cli('report', '--branch', 'westlands', '--json')
      await cli('report', '--branch', 'westlands', '--from', '2026-11-01', '--to', '2026-11-30')
      await cliExits([0, 8], 'health', '--json')
      await cliExits([0, 8], 'health', '--branch', 'westlands')

      // The recovery job, 45 s on (the first check of the open payments is due).
      await capturing('recovery job', captured, async () => {
        const later = createApp(
          testRuntime({
            env: { DSH_HOME: env.home, DSH_DB: env.db },
            clock: { now: () => new Date(Date.now() + 45_000) },
          }).rt,
          {},
        )
        try {
          await runRecovery(later, { schedule: DEFAULT_RECOVERY })
        } finally {
          await later.close()
        }
      })

      // The daemon in-process, over real HTTP: callbacks, payment status, payments, events.
      const signals = new EventEmitter()
      let listening: { url: string } | undefined
      const app = createApp(testRuntime({ env: { DSH_HOME: env.home, DSH_DB: env.db } }).rt, {})
      let running: Promise<void> | undefined

      await capturing('daemon start', captured, async () => {
        running = runDaemon(app, parseDaemonOptions({ port: '0', unmatchedWindow: '1s' }, {}), {
          signals,
          logWrite: () => {},
          onListening: (info) => {
            listening = info
          },
        })
        await waitFor(() => listening, 15_000, 'the in-process daemon')
      })
      const base = listening!.url
      const auth = { authorization: `Bearer ${token}` }
      try {
        const attempt = await env.app
          .store()
          .then((s) =>
            s.db
              .selectFrom('payment_attempts')
              .select(['gateway_ref'])
              .where('payment_id', '=', ids[1]!)
              .executeTakeFirstOrThrow(),
          )
        await capturing('POST mpesa callback (matched), processed', captured, async () => {
          const r = await post(
            `${base}${new URL(cbUrl).pathname}`,
            stkCallback(attempt.gateway_ref!, { amount: '101' }),
          )
          expect(r.status).toBe(200)
          // Processed once: the sandbox still says "pending" to the confirming STK query, so the
          // entry waits for its next attempt (the path that matters here is the processing).
          const store = await env.app.store()
          await waitFor(
            async () => {
              const e = await store.db
                .selectFrom('callback_inbox')
                .select(['status', 'attempts'])
                .where('dedupe_key', '=', `mpesa:${attempt.gateway_ref}`)
                .executeTakeFirst()
              return e && (Number(e.attempts) > 0 || e.status !== 'received')
            },
            15_000,
            'the callback to be processed',
          )
        })
        await capturing('POST mpesa callback (unmatched)', captured, async () => {
          const r = await post(
            `${base}${new URL(cbUrl).pathname}`,
            stkCallback('ws_CO_nobody_knows', { amount: '5' }),
          )
          expect(r.status).toBe(200)
          // Its processing (an unmatched callback: looked for, then kept) is captured too.
          const store = await env.app.store()
          await waitFor(
            async () => {
              const e = await store.db
                .selectFrom('callback_inbox')
                .select(['status', 'attempts'])
                .where('dedupe_key', '=', 'mpesa:ws_CO_nobody_knows')
                .executeTakeFirst()
              return e && (Number(e.attempts) > 0 || e.status !== 'received')
            },
            15_000,
            'the unmatched callback to be processed',
          )
        })
        await capturing('GET /api/payments/:id/status', captured, async () => {
          const r = await fetch(`${base}/api/payments/${ids[0]}/status`, { headers: auth })
          expect(r.status).toBe(200)
        })
        await capturing('POST /api/payments/process', captured, async () => {
          const r = await fetch(`${base}/api/payments/process`, {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': 'qp-1' },
            body: JSON.stringify({ branch: 'westlands', amount: '250', phone: '0712345681' }),
          })
          expect(r.status).toBe(201)
        })
        await capturing('GET /api/events (Last-Event-ID 0)', captured, async () => {
          const ac = new AbortController()
          const r = await fetch(`${base}/api/events?lastEventId=0`, {
            headers: auth,
            signal: ac.signal,
          })
          expect(r.status).toBe(200)
          const reader = r.body!.getReader()
          await reader.read()
          ac.abort()
          await reader.cancel().catch(() => {})
        })
        for (const path of [
          '/api/branches/westlands/settlements',
          '/api/branches/westlands/payment-gateways',
        ])
          await capturing(`GET ${path.replace('westlands', ':id')}`, captured, async () => {
            expect((await fetch(`${base}${path}`, { headers: auth })).status).toBe(200)
          })
        await capturing('GET /healthz', captured, async () => {
          expect((await fetch(`${base}/healthz`)).status).toBe(200)
        })
        // The dashboard: sign in, the branch list, a branch's status and report, its events.
        let cookie = ''
        await capturing('POST /dashboard/session', captured, async () => {
          const r = await fetch(`${base}/dashboard/session`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ token }),
          })
          expect(r.status).toBe(204)
          cookie = /^(dsh_session=[^;]+)/.exec(r.headers.get('set-cookie') ?? '')?.[1] ?? ''
        })
        for (const path of [
          '/dashboard/branches',
          '/dashboard/branches/westlands/status',
          '/api/branches/westlands/report',
          '/api/branches/westlands/report?date=2026-11-03',
        ])
          await capturing(
            `GET ${path.replace('westlands', ':id').replace(/\?.*$/, ' (a past day)')}`,
            captured,
            async () => {
              expect((await fetch(`${base}${path}`, { headers: { cookie } })).status).toBe(200)
            },
          )
        await capturing('GET /dashboard/events', captured, async () => {
          const ac = new AbortController()
          const r = await fetch(`${base}/dashboard/events?branch=westlands`, {
            headers: { cookie, 'last-event-id': '0' },
            signal: ac.signal,
          })
          expect(r.status).toBe(200)
          const reader = r.body!.getReader()
          await reader.read()
          ac.abort()
          await reader.cancel().catch(() => {})
        })
      } finally {
        signals.emit('SIGTERM')
        await running
        await app.close()
      }

      const qs = distinctQueries(captured)
      // The capture saw the paths it was meant to see.
      const seen = new Set(qs.flatMap((q) => q.during.split('; ')))
      for (const label of [
        'dsh payments list',
        'dsh payments show',
        'dsh callbacks list',
        'dsh audit list',
        'recovery job',
        'GET /api/payments/:id/status',
        'POST mpesa callback (matched), processed',
        'dsh settle',
        'dsh settlements show',
        'dsh reconcile import',
        'dsh reconcile run',
        'dsh report',
        'dsh health',
        'GET /dashboard/branches/:id/status',
        'GET /api/branches/:id/report',
      ])
        expect(
          [...seen].some((s) => s.startsWith(label)),
          `no query captured for ${label}`,
        ).toBe(true)
      expect(qs.length).toBeGreaterThan(20)
      // QUERY_PLANS_LIST=1 prints what was checked.
      if (process.env['QUERY_PLANS_LIST'])
        console.log(qs.map((q) => `${q.during}\n  ${q.sql}`).join('\n'))
      const violations = await explain(name, env.db, qs, captured)
      expect(violations, describeViolations(violations)).toEqual([])
    }, 120_000)

    it('control: a planted full-scan query is caught', async () => {
      const planted: CapturedQuery[] = []
      const store = await env.app.store()
      await capturing('planted', planted, async () => {
        await store.db.selectFrom('payments').selectAll().where('order_id', '=', 'QP-1').execute()
        await store.db
          .selectFrom('audit_log')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirst()
        // A page sorted from every matching row (no index is in updated_at order).
        await store.db
          .selectFrom('payments')
          .selectAll()
          .where('phone', '=', '254712345678')
          .orderBy('updated_at', 'desc')
          .limit(5)
          .execute()
        // Bounded and indexed: not a violation.
        await store.db.selectFrom('payments').selectAll().where('id', '=', 'nope').execute()
        // A partial index the planner may use because the query implies its predicate
        // (`payment_id like …` implies `payment_id is not null`): the scan reads every live match.
        await store.db
          .selectFrom('recon_matches')
          .selectAll()
          .where('unmatched_at', 'is', null)
          .where('payment_id', 'like', 'pay%')
          .execute()
        // The index's own predicate, asked for by the query: the index's set, not a violation.
        await store.db
          .selectFrom('settlement_batch_items')
          .select(['payment_id'])
          .where('released_at', 'is', null)
          .execute()
      })
      const violations = await explain(name, env.db, distinctQueries(planted))
      // QUERY_PLANS_LIST=1 prints the planted plans.
      if (process.env['QUERY_PLANS_LIST']) console.log(describeViolations(violations))
      const sqls = violations.map((v) => v.sql.replace(/\s+/g, ' '))
      expect(sqls).toHaveLength(4)
      expect(sqls.some((s) => /from "recon_matches" .*"payment_id" like/.test(s))).toBe(true)
      expect(sqls.some((s) => /where "phone" = .* limit/.test(s))).toBe(true)
      expect(sqls.some((s) => /from "audit_log"/.test(s))).toBe(true)
      expect(sqls.some((s) => /from "payments" where "order_id" = /.test(s))).toBe(true)
    })
  })
})
