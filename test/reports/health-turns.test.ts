import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, createApp } from '../../src/app.js'
import { evaluateHealth } from '../../src/reports/health.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess, testRuntime } from '../helpers/run-cli.js'

const BRANCHES = 6

/**
 * The daemon's health job evaluates every branch. On SQLite each query runs on the event loop and
 * an `await` of it never leaves the loop, so without a turn between branches the whole evaluation
 * is one piece the daemon cannot answer a callback in (25 ms warm, 70 ms cold, at 40 branches and
 * a million payments). Counts the event-loop turns (setImmediate) that happen during one.
 */
describe.each(DIALECTS)('health evaluation on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('event loop', () => {
    const s = useStoreEnv(name)
    let app: App

    beforeAll(async () => {
      const run = async (args: string[]) =>
        expect((await runInProcess(args, { env: s.env })).code).toBe(0)
      await run(['init'])
      await run(['tenant', 'add', 'acme', '--name', 'Acme'])
      for (let i = 1; i <= BRANCHES; i++)
        await run([
          'branch',
          'add',
          `b${i}`,
          '--tenant',
          'acme',
          '--name',
          `B${i}`,
          '--currency',
          'KES',
        ])
      app = createApp(testRuntime({ env: s.env }).rt, {})
    })
    afterAll(async () => {
      await app?.close()
    })

    async function turnsDuring(work: () => Promise<unknown>): Promise<number> {
      let turns = 0
      let on = true
      const tick = () => {
        if (!on) return
        turns++
        setImmediate(tick)
      }
      setImmediate(tick)
      await work()
      on = false
      return turns
    }

    it('gives the event loop a turn after every branch', async () => {
      await evaluateHealth(app) // warm: statements prepared, alerts recorded
      expect(await turnsDuring(() => evaluateHealth(app))).toBeGreaterThanOrEqual(BRANCHES)
    })

    it('control: a loop of awaited queries alone gets no turn on SQLite (on PostgreSQL each waits on a socket)', async () => {
      const store = await app.store()
      const turns = await turnsDuring(async () => {
        for (let i = 0; i < 50; i++)
          await store.db.selectFrom('branches').select('id').where('code', '=', 'b1').execute()
      })
      if (name === 'sqlite') expect(turns).toBe(0)
      else expect(turns).toBeGreaterThan(0)
    })
  })
})
