import { type Kysely, Migrator, sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { MIGRATIONS } from '../../migrations/index.js'
import { openStore } from '../../src/store/connect.js'
import { migrateToLatest } from '../../src/store/migrate.js'
import { dsh } from '../helpers/cli.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'

/**
 * A store upgraded to the counters migration (2026_11_29_0012) holding payments and inbox entries
 * already: the migration fills the counters from them, so `/metrics`, health, report and
 * `dsh doctor`'s full count agree from the first command on.
 */
const COUNTERS = '2026_11_29_0012_counters'

describe.each(DIALECTS)('counters migration on $name', ({ name, enabled }) => {
  const s = useStoreEnv(name)

  it.runIf(enabled)('fills the counters from the rows already there', async () => {
    const names = Object.keys(MIGRATIONS).sort()
    const before = names[names.indexOf(COUNTERS) - 1]!
    const store = await openStore(s.db, { create: true })
    try {
      const migrator = new Migrator({
        db: store.db as Kysely<unknown>,
        provider: { getMigrations: async () => ({ ...MIGRATIONS }) },
      })
      expect((await migrator.migrateTo(before)).error).toBeUndefined()
      const at = '2026-11-28T09:15:00.000Z'
      await sql`insert into tenants (id, slug, name, currency, created_at, updated_at)
        values ('t1', 'acme', 'Acme', 'KES', ${at}, ${at})`.execute(store.db)
      for (const code of ['westlands', 'karen'])
        await sql`insert into branches (id, tenant_id, code, name, currency, timezone, tax_rate_bp,
            service_charge_bp, tips_enabled, methods, status, created_at, updated_at)
          values (${`b_${code}`}, 't1', ${code}, ${code}, 'KES', 'Africa/Nairobi', 0, 0, 0,
            '["mpesa"]', 'active', ${at}, ${at})`.execute(store.db)
      const statuses = ['succeeded', 'succeeded', 'failed', 'pending', 'cancelled']
      for (let i = 0; i < 50; i++) {
        const created = new Date(Date.parse(at) + i * 1_800_000).toISOString()
        const status = statuses[i % statuses.length]!
        await sql`insert into payments (id, tenant_id, branch_id, amount_minor, currency,
            refunded_minor, method, customer_type, gateway, status, routing, settlement_status,
            check_count, created_at, updated_at, completed_at)
          values (${`p${i}`}, 't1', ${i % 3 ? 'b_westlands' : 'b_karen'}, ${String(100 + i * 7)},
            'KES', 0, 'mpesa', 'regular', ${i % 7 ? 'mpesa' : null}, ${status}, '{}',
            'unsettled', 0, ${created},
            ${created}, ${status === 'pending' ? null : new Date(Date.parse(created) + 45_000).toISOString()})`.execute(
          store.db,
        )
      }
      for (let i = 0; i < 12; i++)
        await sql`insert into callback_inbox (id, dedupe_key, gateway, status, received_at, body,
            headers, duplicates, attempts, updated_at)
          values (${`cb${i}`}, ${`mpesa:k${i}`}, ${i % 2 ? 'mpesa' : 'stripe'},
            ${i % 3 ? 'applied' : 'unmatched'}, ${at}, '{}', '{}', ${i % 4}, 0, ${at})`.execute(
          store.db,
        )
      await migrateToLatest(store)
      // The triggers that keep the counters are in place after every later migration too (a
      // SQLite table rebuild would drop them silently).
      const triggers =
        name === 'postgres'
          ? await sql<{ name: string }>`select tgname as name from pg_trigger
              where not tgisinternal and tgrelid in ('payments'::regclass, 'callback_inbox'::regclass)`.execute(
              store.db,
            )
          : await sql<{
              name: string
            }>`select name from sqlite_master where type = 'trigger'`.execute(store.db)
      expect(triggers.rows.map((r) => r.name).sort()).toEqual([
        'inbox_counters_delete',
        'inbox_counters_insert',
        'inbox_counters_update',
        'payments_counters_delete',
        'payments_counters_insert',
        'payments_counters_update',
        ...(name === 'postgres' ? [] : ['payments_hour_counters_update']),
      ])
      const totals = await store.db
        .selectFrom('payment_counts')
        .select((eb) => eb.fn.sum<string>('count').as('n'))
        .executeTakeFirstOrThrow()
      expect(Number(totals.n)).toBe(50)
    } finally {
      await store.close()
    }
    const doctor = await dsh(['doctor', '--json'], { env: s.env })
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0)
    const d = JSON.parse(doctor.stdout) as { counters: { ok: boolean; keys: number } }
    expect(d.counters.ok).toBe(true)
    // payment_counts, payment_hour_counts (50 distinct hours) and inbox_counts keys
    expect(d.counters.keys).toBeGreaterThan(50)
    const report = await dsh(
      ['report', '--branch', 'westlands', '--date', '2026-11-28', '--json'],
      {
        env: s.env,
      },
    )
    expect(report.code, report.stderr).toBe(0)
    // 09:15Z .. 20:45Z on the 28th is 12:15 .. 23:45 in Nairobi: i = 0..23, westlands when i % 3
    const want = Array.from({ length: 24 }, (_, i) => i).filter((i) => i % 3 !== 0)
    expect(JSON.parse(report.stdout).count).toBe(want.length)
  })
})
