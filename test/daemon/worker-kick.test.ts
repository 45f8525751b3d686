import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, createApp } from '../../src/app.js'
import { insertInboxBatch } from '../../src/callbacks/inbox.js'
import { createLogger } from '../../src/daemon/log.js'
import { Metrics } from '../../src/daemon/metrics.js'
import { createInboxWorker, type InboxWorker } from '../../src/daemon/worker.js'
import type { Store } from '../../src/store/connect.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess, testRuntime } from '../helpers/run-cli.js'
import { sleep, waitFor } from '../helpers/wait.js'

/** Long enough that an entry whose kick was lost shows: it waits this long. */
const POLL_MS = 2_500

/**
 * A callback stored (and the worker kicked) while the worker is looking for due entries must
 * not wait for the next poll: the look may have missed it, and the kick came before the worker
 * waited for one. On PostgreSQL the look is three round trips over a socket, so a kick can land
 * in it.
 */
describe.each(DIALECTS)('the inbox worker on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('kicks', () => {
    const s = useStoreEnv(name)
    let app: App
    let store: Store
    let worker: InboxWorker
    let n = 0

    async function storeOne(): Promise<string> {
      const at = new Date().toISOString()
      const id = `cb_kick_${String(++n).padStart(6, '0')}`
      const row = {
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
      await store.write((trx) => insertInboxBatch(trx, [row]))
      return id
    }
    const turns = (k: number) =>
      Array.from({ length: k }).reduce<Promise<void>>(
        (p) => p.then(() => new Promise<void>((r) => setImmediate(r))),
        Promise.resolve(),
      )
    /** Milliseconds until every entry is processed (`invalid`: they name no branch), or null. */
    async function settledWithin(ids: string[], ms: number): Promise<number | null> {
      const t0 = Date.now()
      const settled = async () => {
        const left = await store.db
          .selectFrom('callback_inbox')
          .select('id')
          .where('id', 'in', ids)
          .where('status', '!=', 'invalid')
          .execute()
        return left.length === 0 ? Date.now() - t0 : undefined
      }
      // Polled every 5 ms: the time it took is what the tests measure.
      return waitFor(settled, ms, 'the entries to be processed', 5).catch(() => null)
    }

    beforeAll(async () => {
      expect((await runInProcess(['init'], { env: s.env })).code).toBe(0)
      app = createApp(testRuntime({ env: s.env }).rt, {})
      store = await app.store()
      worker = createInboxWorker(
        app,
        { unmatchedWindowMs: 600_000, pollMs: POLL_MS, concurrency: 4, batch: 64, busyShare: 0.5 },
        createLogger(() => {}, 'error'),
        new Metrics(),
        () => false,
      )
      worker.start()
      await waitFor(() => worker.waiting(), 5_000, 'the worker to wait for a kick')
    })
    afterAll(async () => {
      await worker?.stop(2_000)
      await app?.close()
    })

    it('an entry stored and kicked while the worker looks is processed at once, not a poll later', async () => {
      const waits: number[] = []
      // The second entry lands 0–15 ms after the first (and a few event-loop turns more), so
      // that some land in the look that follows the first entry's processing.
      for (let round = 0; round < 80; round++) {
        const first = await storeOne()
        worker.kick()
        // timer(pacing): the gap between the two entries is what the rounds vary
        await sleep(Math.floor(round / 5))
        await turns([0, 3, 10, 30, 60][round % 5]!)
        const second = await storeOne()
        worker.kick()
        const ms = await settledWithin([first, second], POLL_MS - 500)
        expect(ms, `round ${round}: waits so far ${waits.join(', ')}`).not.toBeNull()
        waits.push(ms!)
        await waitFor(() => worker.waiting(), 5_000, 'the worker to wait for a kick again')
      }
      expect(Math.max(...waits)).toBeLessThan(POLL_MS - 500)
    })

    it('control: an entry stored without a kick waits for the poll', async () => {
      await waitFor(() => worker.waiting(), 5_000, 'the worker to wait for a kick')
      const id = await storeOne()
      expect(await settledWithin([id], 1_000)).toBeNull()
      expect(await settledWithin([id], POLL_MS + 1_000)).not.toBeNull()
    })
  })
})
