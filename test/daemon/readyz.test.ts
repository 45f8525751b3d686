import type { Kysely } from 'kysely'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { MIGRATIONS } from '../../migrations/index.js'
import { dsh } from '../helpers/cli.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { PG_URL } from '../helpers/pg.js'
import { ok, seedSettlement, withStore } from '../settlement/helpers.js'
import { type RunningDaemon, startDaemon, waitFor } from './helpers.js'

// Issue 28 item 2: GET /readyz (the balancer's check) and `dsh daemon --jobs none`.

interface Ready {
  status: number
  cacheControl: string | null
  body: Record<string, unknown>
}

async function readyz(d: RunningDaemon): Promise<Ready> {
  const res = await fetch(`${d.url}/readyz`)
  return {
    status: res.status,
    cacheControl: res.headers.get('cache-control'),
    body: (await res.json()) as Record<string, unknown>,
  }
}

const daemonId = (d: RunningDaemon) => String(d.logs.find((l) => l.msg === 'listening')?.['daemon'])
const LAST_MIGRATION = Object.keys(MIGRATIONS).sort().at(-1)!

type Migrations = Kysely<{ kysely_migration: { name: string; timestamp: string } }>

describe('--jobs', () => {
  it('takes all or none: anything else is a usage error naming the choices', async () => {
    const r = await dsh(['daemon', '--port', '0', '--jobs', 'settlement'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--jobs must be all or none, not "settlement"')
    expect(r.stderr).not.toContain('    at ')
  })
})

describe.each(DIALECTS)('/readyz on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('readiness', () => {
    const s = useStoreEnv(name)
    let running: RunningDaemon | undefined
    const settlementRuns = () =>
      withStore(s.db, (st) => st.db.selectFrom('settlement_runs').selectAll().execute())
    const ticks = () => withStore(s.db, (st) => st.db.selectFrom('job_ticks').selectAll().execute())

    beforeAll(async () => {
      await seedSettlement(s.home, s.env)
      await ok(s.env, [
        'tenant',
        'collection-account',
        'acme',
        '--account-name',
        'Acme',
        '--account-number',
        '0100200300',
        '--bank-name',
        'KCB',
      ])
      // A daily 02:00 auto settlement created three days ago: its next tick has cut-offs to run.
      await ok(s.env, [
        'branch',
        'settlement-account',
        'westlands',
        '--account-name',
        'W',
        '--account-number',
        '12345678',
        '--bank-name',
        'KCB',
        '--schedule',
        'daily',
        '--at',
        '02:00',
        '--auto',
      ])
      await withStore(s.db, (st) =>
        st.db
          .updateTable('settlement_accounts')
          .set({ created_at: new Date(Date.now() - 3 * 86_400_000).toISOString() })
          .execute(),
      )
    }, 60_000)

    afterEach(async () => {
      await running?.stop()
      running = undefined
    })

    it('--jobs none answers 200 and runs no job past a settlement tick; the same store under a normal member settles (control)', async () => {
      running = await startDaemon(s.env, ['--port', '0', '--jobs', 'none'])
      const none = running
      expect(await readyz(none)).toEqual({
        status: 200,
        cacheControl: 'no-store',
        body: { ready: true, daemon: daemonId(none), jobs: 'none' },
      })
      // The settlement job ticks at second 0 of every minute: wait until one has passed.
      const pastTick = (Math.floor(Date.now() / 60_000) + 1) * 60_000 + 3_000
      await waitFor(() => Date.now() > pastTick, 70_000, 'a settlement tick to pass')
      expect(await settlementRuns()).toEqual([])
      expect(await ticks()).toEqual([])
      expect(none.logs.filter((l) => l.msg.startsWith('job.')).map((l) => l.msg)).toEqual([])
      expect(none.logs.filter((l) => l.msg === 'jobs.none')).toHaveLength(1)
      expect((await readyz(none)).status).toBe(200)
      expect(await none.stop()).toBe(0)
      running = undefined

      // Control: the same store and schedule under a member running every job settles.
      running = await startDaemon(s.env, ['--port', '0'])
      const all = running
      expect(await readyz(all)).toEqual({
        status: 200,
        cacheControl: 'no-store',
        body: { ready: true, daemon: daemonId(all), jobs: 'all' },
      })
      const runs = await waitFor(
        async () => {
          const r = await settlementRuns()
          return r.length >= 3 ? r : undefined
        },
        75_000,
        'the normal member to run the due settlement cut-offs',
      )
      expect(runs.length).toBeGreaterThanOrEqual(3)
      const settled = (await ticks()).filter((t) => t.job === 'settlement')
      expect(settled.length).toBeGreaterThanOrEqual(1)
      expect(new Set(settled.map((t) => t.owner))).toEqual(new Set([daemonId(all)]))
    }, 180_000)

    it('a store behind on migrations answers 503 schema_behind, one migrated by a newer dsh schema_ahead; 200 again once right', async () => {
      running = await startDaemon(s.env, ['--port', '0'])
      const d = running
      expect((await readyz(d)).status).toBe(200)
      const saved = await withStore(s.db, async (st) => {
        const db = st.db as unknown as Migrations
        const row = await db
          .selectFrom('kysely_migration')
          .selectAll()
          .where('name', '=', LAST_MIGRATION)
          .executeTakeFirstOrThrow()
        await db.deleteFrom('kysely_migration').where('name', '=', LAST_MIGRATION).execute()
        return row
      })
      const behind = await waitFor(
        async () => {
          const r = await readyz(d)
          return r.status === 503 ? r : undefined
        },
        15_000,
        '/readyz to see the store behind',
      )
      expect(behind).toEqual({
        status: 503,
        cacheControl: 'no-store',
        body: {
          ready: false,
          reason: 'schema_behind',
          daemon: daemonId(d),
          jobs: 'all',
          detail: 'the store is 1 migrations behind this build: run `dsh migrate`',
          pending: [LAST_MIGRATION],
        },
      })
      await withStore(s.db, async (st) => {
        const db = st.db as unknown as Migrations
        await db.insertInto('kysely_migration').values(saved).execute()
        await db
          .insertInto('kysely_migration')
          .values({ name: '2099_01_01_0001_future', timestamp: saved.timestamp })
          .execute()
      })
      const ahead = await waitFor(
        async () => {
          const r = await readyz(d)
          return r.body['reason'] === 'schema_ahead' ? r : undefined
        },
        15_000,
        '/readyz to see the store ahead',
      )
      expect(ahead.status).toBe(503)
      expect(ahead.body).toEqual({
        ready: false,
        reason: 'schema_ahead',
        daemon: daemonId(d),
        jobs: 'all',
        detail: 'the store was migrated by a newer dsh (1 migrations this build does not know)',
        unknown: ['2099_01_01_0001_future'],
      })
      await withStore(s.db, (st) =>
        (st.db as unknown as Migrations)
          .deleteFrom('kysely_migration')
          .where('name', '=', '2099_01_01_0001_future')
          .execute(),
      )
      await waitFor(
        async () => (await readyz(d)).status === 200,
        15_000,
        '/readyz to be ready again',
      )
    }, 60_000)

    it.runIf(name === 'postgres')(
      'a PostgreSQL database dropped under a running daemon answers 503 store_unreachable',
      async () => {
        running = await startDaemon(s.env, ['--port', '0'])
        const d = running
        expect((await readyz(d)).status).toBe(200)
        const dbName = new URL(s.db).pathname.slice(1)
        const { default: pg } = await import('pg')
        const admin = new pg.Client({ connectionString: PG_URL })
        await admin.connect()
        try {
          await admin.query(`drop database ${dbName} with (force)`)
        } finally {
          await admin.end()
        }
        const down = await waitFor(
          async () => {
            const r = await readyz(d)
            return r.status === 503 ? r : undefined
          },
          15_000,
          '/readyz to see the store gone',
        )
        expect(down.cacheControl).toBe('no-store')
        expect(down.body).toMatchObject({
          ready: false,
          reason: 'store_unreachable',
          daemon: daemonId(d),
          jobs: 'all',
        })
        expect(String(down.body['detail'])).toMatch(/^the store does not answer: /)
        expect(String(down.body['detail'])).not.toContain(PG_URL ?? '\u0000')
      },
      60_000,
    )
  })
})
