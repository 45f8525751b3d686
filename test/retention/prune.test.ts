import { beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.js'
import { JOB_PROVIDERS } from '../../src/daemon/scheduler.js'
import { retentionJobs } from '../../src/retention/jobs.js'
import type { Store } from '../../src/store/connect.js'
import { freePort, startDaemon, waitFor } from '../daemon/helpers.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess, testRuntime } from '../helpers/run-cli.js'
import { fixedClock, ok, seedSettlement, withStore } from '../settlement/helpers.js'

interface PruneJson {
  dryRun: boolean
  at: string
  events: { retention: string; before: string; removed: number; oldestKeptSeq: number | null }
  inbox: { retention: string; before: string; statuses: string[]; removed: number }
  transactions: number
  maxTransactionMs: number
  elapsedMs: number
}

const OLD = '2026-06-01T09:00:00.000Z'
const RECENT = '2026-09-25T09:00:00.000Z'
/** The prune runs "now": events before 2026-09-01 (30 d) and inbox before 2026-07-03 (90 d) go. */
const NOW = '2026-10-01T00:00:00.000Z'

/** Every row of the tables retention must never touch, by key. */
async function untouchable(store: Store) {
  const ids = async (table: 'payments' | 'payment_attempts' | 'settlement_batches') =>
    (await store.db.selectFrom(table).select('id').orderBy('id').execute()).map((r) => r.id)
  return {
    payments: await ids('payments'),
    attempts: await ids('payment_attempts'),
    batches: await ids('settlement_batches'),
    batchItems: (
      await store.db.selectFrom('settlement_batch_items').select('payment_id').execute()
    ).map((r) => r.payment_id),
    paymentEvents: Number(
      (
        await store.db
          .selectFrom('payment_events')
          .select((eb) => eb.fn.countAll<number | string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    ),
    audit: (await store.db.selectFrom('audit_log').select('seq').orderBy('seq').execute()).map(
      (r) => Number(r.seq),
    ),
  }
}

const inboxRow = (id: string, status: string, at: string) => ({
  id,
  dedupe_key: `mpesa:${id}`,
  gateway: 'mpesa',
  branch_id: null,
  tenant_id: null,
  status,
  received_at: at,
  body: '{"Body":{"stkCallback":{"PhoneNumber":"2547******78"}}}',
  headers: '{}',
  remote_addr: '127.0.0.1',
  gateway_ref: `ws_CO_${id}`,
  duplicates: 0,
  last_duplicate_at: null,
  attempts: 1,
  next_attempt_at: null,
  lease_until: null,
  last_error: null,
  note: null,
  payment_id: null,
  processed_at: at,
  updated_at: at,
})

describe.each(DIALECTS)('retention on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('dsh prune', () => {
    const s = useStoreEnv(name)
    const clock = fixedClock(OLD)
    const pay = async (amount: string) =>
      ok(s.env, ['pay', '--branch', 'westlands', '--amount', amount, '--method', 'cash'], clock)
    let before: Awaited<ReturnType<typeof untouchable>>

    beforeAll(async () => {
      await seedSettlement(s.home, s.env)
      await ok(s.env, [
        'branch',
        'settlement-account',
        'westlands',
        '--account-name',
        'Westlands Ltd',
        '--account-number',
        '0011223344',
        '--bank-name',
        'KCB',
        '--holding-hours',
        '0',
        '--transfer',
        'manual',
      ])
      // Old payments (with their attempts, events and audit rows), settled in an old batch.
      for (const a of ['100', '200', '300', '400']) await pay(a)
      clock.set('2026-06-02T12:00:00.000Z')
      await ok(s.env, ['settle', '--branch', 'westlands', '--date', '2026-06-02'], clock)
      // Recent payments: their events are kept.
      clock.set(RECENT)
      for (const a of ['500', '600']) await pay(a)
      await withStore(s.db, async (st) => {
        // Cash takes no gateway attempt: each old payment gets one as a gateway would leave it.
        const old = await st.db
          .selectFrom('payments')
          .select(['id', 'created_at'])
          .where('created_at', '<', '2026-07-01')
          .execute()
        await st.db
          .insertInto('payment_attempts')
          .values(
            old.map((p, i) => ({
              id: `att_old_${i}`,
              payment_id: p.id,
              seq: 1,
              gateway: 'cash',
              gateway_config_id: null,
              status: 'succeeded',
              failure_kind: null,
              code: null,
              message: null,
              gateway_ref: `ref_${i}`,
              secondary_ref: null,
              receipt_number: null,
              request: null,
              response: null,
              latency_ms: 3,
              created_at: p.created_at,
              updated_at: p.created_at,
            })),
          )
          .execute()
        await st.db
          .insertInto('callback_inbox')
          .values([
            inboxRow('old_applied', 'applied', '2026-05-01T10:00:00.000Z'),
            inboxRow('old_ignored', 'ignored', '2026-05-01T10:00:01.000Z'),
            inboxRow('old_orphaned', 'orphaned', '2026-05-01T10:00:02.000Z'),
            inboxRow('old_review', 'review', '2026-05-01T10:00:03.000Z'),
            inboxRow('old_failed', 'failed', '2026-05-01T10:00:04.000Z'),
            inboxRow('old_unmatched', 'unmatched', '2026-05-01T10:00:05.000Z'),
            inboxRow('recent_applied', 'applied', '2026-08-01T10:00:00.000Z'),
          ])
          .execute()
        before = await untouchable(st)
      })
      clock.set(NOW)
    })

    it('control: the payments, attempts, batches and audit rows are older than both cut-offs', async () => {
      // A prune by age across tables would take them: the must-hold below can fail.
      await withStore(s.db, async (st) => {
        const oldest = async (table: 'payments' | 'settlement_batches' | 'audit_log') =>
          (
            await st.db
              .selectFrom(table)
              .select('created_at' as never)
              .orderBy('created_at' as never)
              .limit(1)
              .executeTakeFirstOrThrow()
          )['created_at' as never] as string
        for (const t of ['payments', 'settlement_batches'] as const)
          expect(await oldest(t)).toMatch(/^2026-06-0[12]/)
        expect(before.payments).toHaveLength(6)
        expect(before.attempts).toHaveLength(4)
        expect(before.batches).toHaveLength(1)
        expect(before.batchItems).toHaveLength(4)
        expect(before.audit.length).toBeGreaterThan(10)
      })
    })

    it('--dry-run counts what would go and removes nothing', async () => {
      const r = await ok(s.env, ['prune', '--dry-run', '--json'], clock)
      const j = r.json<PruneJson>()
      expect(j).toMatchObject({
        dryRun: true,
        at: NOW,
        events: {
          retention: '30d',
          before: '2026-09-01T00:00:00.000Z',
          removed: 4,
          oldestKeptSeq: 5,
        },
        inbox: {
          retention: '90d',
          before: '2026-07-03T00:00:00.000Z',
          statuses: ['applied', 'ignored', 'orphaned'],
          removed: 3,
        },
        transactions: 0,
      })
      await withStore(s.db, async (st) => {
        expect(await st.db.selectFrom('events').select('seq').execute()).toHaveLength(6)
        expect(await st.db.selectFrom('callback_inbox').select('id').execute()).toHaveLength(7)
        expect(await untouchable(st)).toEqual(before)
      })
    })

    it('removes expired events and final inbox entries, never a payment, attempt, batch or audit row', async () => {
      const r = await ok(s.env, ['prune', '--json'], clock)
      const j = r.json<PruneJson>()
      expect(j).toMatchObject({
        dryRun: false,
        events: { removed: 4, oldestKeptSeq: 5 },
        inbox: { removed: 3 },
      })
      expect(j.transactions).toBeGreaterThanOrEqual(4)
      expect(j.maxTransactionMs).toBeGreaterThan(0)
      await withStore(s.db, async (st) => {
        const events = await st.db
          .selectFrom('events')
          .select(['seq', 'at'])
          .orderBy('seq')
          .execute()
        expect(events.map((e) => Number(e.seq))).toEqual([5, 6])
        for (const e of events) expect(e.at.startsWith('2026-09-25')).toBe(true)
        const inbox = await st.db.selectFrom('callback_inbox').select('id').orderBy('id').execute()
        expect(inbox.map((e) => e.id)).toEqual([
          'old_failed',
          'old_review',
          'old_unmatched',
          'recent_applied',
        ])
        const after = await untouchable(st)
        // The audit log only grew, by the prune run's own row.
        expect({ ...after, audit: after.audit.slice(0, -1) }).toEqual(before)
        expect(after.audit).toHaveLength(before.audit.length + 1)
        const row = await st.db
          .selectFrom('audit_log')
          .selectAll()
          .orderBy('seq', 'desc')
          .limit(1)
          .executeTakeFirstOrThrow()
        expect(row.action).toBe('retention.prune')
        expect(JSON.parse(row.request)).toEqual({
          eventsRetention: '30d',
          eventsBefore: '2026-09-01T00:00:00.000Z',
          eventsRemoved: 4,
          inboxRetention: '90d',
          inboxBefore: '2026-07-03T00:00:00.000Z',
          inboxRemoved: 3,
        })
      })
      // The counters behind /metrics and health still equal a full count after the deletes.
      const doctor = await runInProcess(['doctor'], { env: s.env })
      expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0)
      // Again: nothing left to remove, one more audit row.
      const again = (await ok(s.env, ['prune', '--json'], clock)).json<PruneJson>()
      expect(again.events.removed).toBe(0)
      expect(again.inbox.removed).toBe(0)
    })

    it('the retention periods are settings; the daemon runs the same daily', async () => {
      const bad = await runInProcess(['config', 'set', 'events-retention', 'soon'], { env: s.env })
      expect(bad.code).toBe(3)
      expect(bad.stderr).toContain('"soon" is not a retention period')
      expect(
        (await ok(s.env, ['config', 'set', 'events-retention', '3']).then((r) => r.stdout)).trim(),
      ).toBe('events-retention = 3d')
      await ok(s.env, ['config', 'set', 'inbox-retention', '30d'])
      expect(JOB_PROVIDERS).toContain(retentionJobs)
      const app = createApp(testRuntime({ env: s.env, clock: fixedClock(NOW) }).rt, {})
      try {
        const [job] = await retentionJobs(app, {
          recovery: { pendingMs: [], unknownMs: [] },
          recoveryCron: '*/5 * * * * *',
          dbSpec: s.db,
        })
        expect(job?.name).toBe('prune')
        expect(job?.cron).toBe('0 41 3 * * *')
        // 3 days back from NOW: the two 2026-09-25 events go; 30 days: the August entry goes.
        const r = await job!.run(new Date(NOW))
        expect(r.summary).toMatch(
          /^removed 2 events before 2026-09-28T00:00:00.000Z and 1 inbox entries before 2026-09-01T00:00:00.000Z in \d+ transactions \(longest [\d.]+ ms\)$/,
        )
      } finally {
        await app.close()
      }
    })

    it('an SSE client resuming from a pruned id gets the oldest kept events and a notice', async () => {
      clock.set('2026-10-01T00:00:00.000Z')
      await pay('700')
      await pay('800')
      // Events 1..6 are gone; 7 and 8 are kept.
      const pruned = await withStore(s.db, (st) =>
        st.db.selectFrom('events').select('seq').orderBy('seq').execute(),
      )
      expect(pruned.map((e) => Number(e.seq))).toEqual([7, 8])
      const t = (
        await ok(s.env, [
          'token',
          'create',
          '--name',
          'watcher',
          '--role',
          'viewer',
          '--tenant',
          'acme',
          '--json',
        ])
      ).json<{ token: string }>().token
      const daemon = await startDaemon(s.env, ['--port', String(await freePort())])
      try {
        const read = async (lastEventId: string) => {
          const ctl = new AbortController()
          const res = await fetch(`${daemon.url}/api/events`, {
            headers: { authorization: `Bearer ${t}`, 'last-event-id': lastEventId },
            signal: ctl.signal,
          })
          expect(res.status).toBe(200)
          const reader = (res.body as ReadableStream<Uint8Array>).getReader()
          const dec = new TextDecoder()
          let text = ''
          await waitFor(
            async () => {
              const { value } = await reader.read()
              text += dec.decode(value)
              return /^id: 8$/m.test(text)
            },
            5_000,
            'event 8',
          )
          ctl.abort()
          return text
        }
        const text = await read('2')
        const notice = /event: notice\ndata: (.*)\n\n/.exec(text)
        expect(notice).not.toBeNull()
        expect(JSON.parse(notice![1]!)).toEqual({
          type: 'events.pruned',
          lastEventId: 2,
          oldestKeptSeq: 7,
          message:
            'events 3 to 6 were removed by retention (events-retention); resuming from the oldest kept event, 7',
        })
        expect(text.indexOf('event: notice')).toBeLessThan(text.indexOf('id: 7'))
        expect([...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))).toEqual([7, 8])
        // Control: resuming from a kept id gets no notice, only what follows it.
        const kept = await read('7')
        expect(kept).not.toContain('event: notice')
        expect([...kept.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))).toEqual([8])
      } finally {
        await daemon.stop()
      }
    })
  })
})
