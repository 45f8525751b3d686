import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, createApp } from '../../src/app.js'
import { insertInboxBatch } from '../../src/callbacks/inbox.js'
import { processInboxEntry } from '../../src/callbacks/process.js'
import { createLogger } from '../../src/daemon/log.js'
import { Metrics } from '../../src/daemon/metrics.js'
import { createInboxWorker, type WorkerOptions } from '../../src/daemon/worker.js'
import type { Store } from '../../src/store/connect.js'
import { useStoreEnv } from '../helpers/dialects.js'
import { runInProcess, testRuntime } from '../helpers/run-cli.js'
import { sleep, waitFor } from '../helpers/wait.js'

/**
 * The inbox worker while callbacks keep coming: `busy` is always true (the daemon is answering
 * requests all the time), a steady stream of callbacks is stored the way the receiver stores them
 * (and kicks the worker), and processing must keep up. Each entry names no branch, so processing
 * finishes it as `invalid`: the real claim, decision and record, at a cost measured first.
 */
describe('inbox processing under a steady stream of acknowledgements', () => {
  const s = useStoreEnv('sqlite')
  let app: App
  let store: Store
  let n = 0

  const NEW_RULE: WorkerOptions = {
    unmatchedWindowMs: 600_000,
    pollMs: 1_000,
    concurrency: 8,
    batch: 64,
    busyShare: 0.5,
    sliceMs: 50,
  }
  /**
   * The rule before: one entry at a time, then a rest of at least 5 ms, long enough that
   * processing takes a tenth of the time.
   */
  const OLD_RULE: WorkerOptions = {
    ...NEW_RULE,
    concurrency: 1,
    busyShare: 0.1,
    sliceMs: 0,
    minRestMs: 5,
  }

  async function store_(count: number): Promise<void> {
    const at = new Date().toISOString()
    const rows = Array.from({ length: count }, () => {
      const id = `cb_test_${String(++n).padStart(8, '0')}`
      return {
        id,
        dedupe_key: `mpesa:${id}`,
        gateway: 'mpesa',
        branch_id: null,
        tenant_id: null,
        status: 'received',
        received_at: at,
        body: '{}',
        headers: '{}',
        remote_addr: '127.0.0.1',
        gateway_ref: null,
        next_attempt_at: at,
        updated_at: at,
      }
    })
    await store.write((trx) => insertInboxBatch(trx, rows))
  }

  const counts = async () => {
    const rows = await store.db
      .selectFrom('callback_inbox')
      .select(['status', (eb) => eb.fn.countAll<number | string>().as('n')])
      .groupBy('status')
      .execute()
    const by = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]))
    return { done: by['invalid'] ?? 0, all: rows.reduce((t, r) => t + Number(r.n), 0) }
  }

  /** Runs a worker while `perTick` callbacks arrive every 20 ms for `ms`; returns the shares. */
  async function stream(options: WorkerOptions, perTick: number, ms: number) {
    const base = await counts()
    const worker = createInboxWorker(
      app,
      options,
      createLogger(() => {}, 'error'),
      new Metrics(),
      () => true,
    )
    worker.start()
    const end = Date.now() + ms
    while (Date.now() < end) {
      await store_(perTick)
      worker.kick()
      // timer(pacing): a steady flow of entries for `ms`, perTick every 20 ms (the load itself)
      await sleep(20)
    }
    const atEnd = await counts()
    const stored = atEnd.all - base.all
    const processedAtEnd = atEnd.done - base.done
    let drainedMs: number | null = null
    const stop = Date.now()
    const drained = async () => {
      const c = await counts()
      return c.done === c.all ? Date.now() - stop : undefined
    }
    drainedMs = await waitFor(drained, 3_000, 'the inbox to drain', 20).catch(() => drainedMs)
    await worker.stop(2_000)
    // Leave nothing waiting for the next run.
    const left = await counts()
    if (left.done !== left.all)
      await store.db
        .updateTable('callback_inbox')
        .set({ status: 'invalid' })
        .where('status', '!=', 'invalid')
        .execute()
    return { stored, processedAtEnd, share: processedAtEnd / stored, drainedMs }
  }

  /** What processing one entry takes (ms), measured alone. */
  let costMs = 1

  beforeAll(async () => {
    expect((await runInProcess(['init'], { env: s.env })).code).toBe(0)
    app = createApp(testRuntime({ env: s.env }).rt, {})
    store = await app.store()
    // The cost of processing one entry, alone: warm up (JIT, statements), then time 200.
    const first = n
    await store_(250)
    for (let i = 1; i <= 50; i++)
      await processInboxEntry(app, `cb_test_${String(first + i).padStart(8, '0')}`, NEW_RULE)
    const t0 = performance.now()
    for (let i = 51; i <= 250; i++)
      await processInboxEntry(app, `cb_test_${String(first + i).padStart(8, '0')}`, NEW_RULE)
    costMs = (performance.now() - t0) / 200
  })
  afterAll(async () => {
    await app?.close()
  })

  // A stream at 40 % of what processing can do alone (at most 500 a second): the new rule
  // gives processing half the time (it keeps up); the old one a tenth, and at most one entry per
  // 5 ms (it falls further behind every second).
  const perTick = () => Math.max(1, Math.round(Math.min(500, 400 / costMs) * 0.02))

  it('processing keeps up while acknowledgements continue, and the backlog drains at once', async () => {
    const r = await stream(NEW_RULE, perTick(), 2_000)
    expect(r.stored).toBeGreaterThan(20)
    expect(r.share, JSON.stringify({ costMs, perTick: perTick(), ...r })).toBeGreaterThanOrEqual(
      0.8,
    )
    expect(r.drainedMs, JSON.stringify({ costMs, perTick: perTick(), ...r })).not.toBeNull()
    expect(r.drainedMs!).toBeLessThan(1_000)
  })

  it('control: with the old rule (one at a time, a tenth of the time) the same stream outruns processing', async () => {
    const r = await stream(OLD_RULE, perTick(), 2_000)
    expect(r.share, JSON.stringify({ costMs, perTick: perTick(), ...r })).toBeLessThan(0.7)
  })
})
