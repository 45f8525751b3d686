import { sql } from 'kysely'
import { beforeAll, describe, expect, it } from 'vitest'
import type { Store } from '../../src/store/connect.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess } from '../helpers/run-cli.js'
import {
  addPayments,
  fixedClock,
  ok,
  type PaymentSpec,
  seedSettlement,
  withStore,
} from './helpers.js'

/**
 * Must hold: the payment counters (payment_counts, behind /metrics, health and report) equal a
 * full count of `payments` after a settlement run, its rerun, and runs that fail mid-way and roll
 * back. On SQLite the run's bulk unsettled → batched move adjusts payment_counts itself in one
 * grouped upsert while the row trigger stands aside, for as long as `payment_counts_bulk` holds a
 * row inside the run's transaction (migration 0015); that row is never committed. The controls
 * show the checks fail when the adjustment is skipped or the guard row is left behind.
 */

interface Doctor {
  ok: boolean
  violations: string[]
  counters: { ok: boolean; keys: number; mismatches: string[]; repaired?: number }
}
interface Report {
  nothingToDo: boolean
  batches: { id: string; gateway: string; paymentCount: number; grossMinor: number }[]
}

const KES_FEE = { rateBp: 150, flat: 100n, convBp: 0 }

/** Eligible (completed before now, 2026-11-30T12:00Z), and some that a run must leave alone. */
const PAYMENTS: PaymentSpec[] = [
  ...Array.from({ length: 24 }, (_, i) => ({
    id: `pc_${String(i).padStart(3, '0')}`,
    branch: i % 3 === 2 ? 'karen' : 'westlands',
    gateway: i % 2 ? 'cash' : 'stripe',
    amount: 10_000n + BigInt(i * 1_234),
    currency: 'KES',
    completedAt: new Date(Date.parse('2026-11-29T06:00:00.000Z') + i * 600_000).toISOString(),
    fee: KES_FEE,
  })),
  // not eligible: completed after now, refunded, failed, in a currency with no account
  {
    id: 'pc_late',
    branch: 'westlands',
    gateway: 'cash',
    amount: 7_000n,
    currency: 'KES',
    completedAt: '2026-11-30T13:00:00.000Z',
    fee: KES_FEE,
  },
  {
    id: 'pc_refunded',
    branch: 'westlands',
    gateway: 'cash',
    amount: 8_000n,
    currency: 'KES',
    completedAt: '2026-11-29T08:00:00.000Z',
    refunded: 8_000n,
    fee: KES_FEE,
  },
  {
    id: 'pc_failed',
    branch: 'karen',
    gateway: 'cash',
    amount: 9_000n,
    currency: 'KES',
    completedAt: '2026-11-29T08:00:00.000Z',
    status: 'failed',
    fee: null,
  },
  {
    id: 'pc_ugx',
    branch: 'westlands',
    gateway: 'cash',
    amount: 50_000n,
    currency: 'UGX',
    completedAt: '2026-11-29T09:00:00.000Z',
    fee: { rateBp: 150, flat: 0n, convBp: 200 },
  },
]
/** Westlands' eligible payment inserted last: the bulk UPDATE (rowid order) reaches it last. */
const LAST = 'pc_022'

const keyOf = (r: Record<string, unknown>) =>
  ['tenant_id', 'branch_id', 'gateway', 'status', 'settlement_status', 'currency']
    .map((k) => String(r[k]))
    .join('|')

/** The test's own full count (not src/) and the counters summed per key, zero keys left out. */
async function bothSides(store: Store) {
  const full = await sql<Record<string, unknown>>`
    select tenant_id, branch_id, coalesce(gateway, '') as gateway, status, settlement_status,
      currency, count(*) as n, sum(amount_minor) as a
    from payments
    group by tenant_id, branch_id, coalesce(gateway, ''), status, settlement_status, currency`.execute(
    store.db,
  )
  const counters = await sql<Record<string, unknown>>`
    select tenant_id, branch_id, gateway, status, settlement_status, currency,
      sum(count) as n, sum(amount_minor) as a
    from payment_counts
    group by tenant_id, branch_id, gateway, status, settlement_status, currency`.execute(store.db)
  const map = (rows: Record<string, unknown>[]): Record<string, string> =>
    Object.fromEntries(
      rows
        .filter((r) => BigInt(r['n'] as string) !== 0n || BigInt(r['a'] as string) !== 0n)
        .map((r): [string, string] => [
          keyOf(r),
          `${BigInt(r['n'] as string)} / ${BigInt(r['a'] as string)}`,
        ])
        .sort(([x], [y]) => (x < y ? -1 : 1)),
    )
  const guards = await sql<{
    n: string | number
  }>`select count(*) as n from payment_counts_bulk`.execute(store.db)
  return {
    full: map(full.rows),
    counters: map(counters.rows),
    guards: Number(guards.rows[0]?.n),
  }
}

describe.each(DIALECTS)('settlement runs keep the counters exact on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('runs', () => {
    const s = useStoreEnv(name)
    const clock = fixedClock('2026-11-30T12:00:00.000Z')
    const run = (...args: string[]) => runInProcess(args, { env: s.env, clock })
    const settle = (date = '2026-11-30') =>
      run('settle', '--branch', 'westlands', '--date', date, '--json')
    const settleKaren = () => run('settle', '--branch', 'karen', '--date', '2026-11-30', '--json')

    /** Counters = a full count (the test's and the doctor's), and no guard row committed. */
    /** `planted`: the test's own failure triggers are in the store, and doctor names only them. */
    async function expectExact(planted = false) {
      const sides = await withStore(s.db, bothSides)
      expect(sides.counters).toEqual(sides.full)
      expect(sides.guards).toBe(0)
      const d = await run('doctor', '--json')
      expect(d.code, d.stdout + d.stderr).toBe(planted ? 8 : 0)
      expect(d.json<Doctor>().counters).toMatchObject({ ok: true, mismatches: [] })
      if (planted) {
        const found = d.json<{ schema: { findings: string[] } }>().schema.findings
        expect(found.length).toBeGreaterThan(0)
        for (const f of found)
          expect(f).toMatch(/test_fail_(move|audit).* is not made by dsh's migrations/)
      }
      return sides
    }

    const statuses = () =>
      withStore(s.db, async (st) =>
        Object.fromEntries(
          (
            await st.db
              .selectFrom('payments')
              .select(['id', 'settlement_status'])
              .orderBy('id')
              .execute()
          ).map((p) => [p.id, p.settlement_status]),
        ),
      )
    const batchCount = () =>
      withStore(s.db, async (st) =>
        Number(
          (
            await st.db
              .selectFrom('settlement_batches')
              .select((eb) => eb.fn.countAll<string>().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        ),
      )

    beforeAll(async () => {
      await seedSettlement(s.home, s.env)
      await ok(s.env, [
        'branch',
        'add',
        'karen',
        '--tenant',
        'acme',
        '--name',
        'Karen',
        '--currency',
        'KES',
      ])
      for (const branch of ['westlands', 'karen'])
        await ok(s.env, [
          'branch',
          'settlement-account',
          branch,
          '--account-name',
          `${branch} Ltd`,
          '--account-number',
          '0011223344',
          '--bank-name',
          'KCB',
          '--at',
          '23:00',
          '--holding-hours',
          '0',
        ])
      await ok(s.env, [
        'tenant',
        'collection-account',
        'acme',
        '--account-name',
        'Acme Collections',
        '--account-number',
        '0100200300',
        '--bank-name',
        'KCB',
      ])
      await addPayments(s.db, PAYMENTS)
      await expectExact()
    })

    it('a run that fails mid-move, or after it, rolls back with its counter adjustment and guard row', async () => {
      const before = await statuses()
      const failures =
        name === 'sqlite'
          ? {
              install: [
                // inside the bulk UPDATE (the guard row is there), at its last payment
                `create trigger test_fail_move before update of settlement_status on payments
                 when NEW.id = '${LAST}' and NEW.settlement_status = 'batched'
                 begin select raise(abort, 'injected failure in the move'); end`,
                // after the move and the counters' adjustment: the batch's audit row
                `create trigger test_fail_audit before insert on audit_log
                 when NEW.action = 'settlement.create'
                 begin select raise(abort, 'injected failure after the move'); end`,
              ],
              drop: ['drop trigger test_fail_move', 'drop trigger test_fail_audit'],
            }
          : {
              install: [
                `create function test_fail_move() returns trigger language plpgsql as $$
                 begin raise exception 'injected failure in the move'; end $$`,
                `create trigger test_fail_move before update on payments for each row
                 when (new.id = '${LAST}' and new.settlement_status = 'batched')
                 execute function test_fail_move()`,
                `create function test_fail_audit() returns trigger language plpgsql as $$
                 begin raise exception 'injected failure after the move'; end $$`,
                `create trigger test_fail_audit before insert on audit_log for each row
                 when (new.action = 'settlement.create') execute function test_fail_audit()`,
              ],
              drop: [
                'drop trigger test_fail_move on payments',
                'drop function test_fail_move()',
                'drop trigger test_fail_audit on audit_log',
                'drop function test_fail_audit()',
              ],
            }
      const exec = (stmts: string[]) =>
        withStore(s.db, async (st) => {
          for (const q of stmts) await sql.raw(q).execute(st.db)
        })
      await exec(failures.install)
      try {
        const inMove = await settle()
        expect(inMove.code, inMove.stderr).not.toBe(0)
        expect(inMove.stderr).toContain('injected failure in the move')
        expect(await statuses()).toEqual(before)
        expect(await batchCount()).toBe(0)
        await expectExact(true)
        // Past the move: only the audit trigger fails now (karen has no payment LAST).
        const afterMove = await settleKaren()
        expect(afterMove.code, afterMove.stderr).not.toBe(0)
        expect(afterMove.stderr).toContain('injected failure after the move')
        expect(await statuses()).toEqual(before)
        expect(await batchCount()).toBe(0)
        await expectExact(true)
      } finally {
        await exec(failures.drop)
      }
    })

    it('a run, its rerun, a cancel and the run after it: counters equal a full count each time', async () => {
      const first = await settle()
      expect(first.code, first.stderr).toBe(0)
      const report = first.json<Report>()
      expect(report.batches.map((b) => [b.gateway, b.paymentCount]).sort()).toEqual([
        ['cash', 8],
        ['stripe', 8],
      ])
      const sides = await expectExact()
      // The moved payments are counted under 'batched', and only them.
      const batched = Object.entries(sides.full).filter(([k]) => k.includes('|batched|'))
      expect(batched.map(([, v]) => Number(v.split(' / ')[0])).reduce((a, b) => a + b, 0)).toBe(16)
      const st = await statuses()
      expect(st['pc_late']).toBe('unsettled')
      expect(st['pc_refunded']).toBe('unsettled')
      expect(st['pc_ugx']).toBe('unsettled')
      expect(st[LAST]).toBe('batched')

      const again = await settle()
      expect(again.code, again.stderr).toBe(0)
      expect(again.json<Report>().nothingToDo).toBe(true)
      await expectExact()

      // The other branch in its own run, then a cancel (its release goes through the row trigger)
      // and the run that batches the released payments again.
      expect((await settleKaren()).code).toBe(0)
      await expectExact()
      const cash = report.batches.find((b) => b.gateway === 'cash')!
      const cancel = await run('settlements', 'cancel', cash.id, '--yes')
      expect(cancel.code, cancel.stderr).toBe(0)
      await expectExact()
      const rerun = await settle()
      expect(rerun.code, rerun.stderr).toBe(0)
      const redone = rerun.json<Report>().batches
      expect(redone.map((b) => [b.gateway, b.paymentCount, b.grossMinor])).toEqual([
        ['cash', 8, cash.grossMinor],
      ])
      await expectExact()
    })

    it('control: the bulk move without its grouped adjustment is found (the trigger stood aside)', async () => {
      const id = 'pc_control1'
      await addPayments(s.db, [
        { ...(PAYMENTS[0] as PaymentSpec), id, completedAt: '2026-11-30T13:30:00.000Z' },
      ])
      await expectExact()
      await withStore(s.db, (st) =>
        st.write(async (trx) => {
          if (name === 'sqlite') {
            // What the run's move does, less its adjustment of payment_counts.
            await sql`insert into payment_counts_bulk (id) values (1)`.execute(trx)
            await sql`update payments set settlement_status = 'batched' where id = ${id}`.execute(
              trx,
            )
            await sql`delete from payment_counts_bulk`.execute(trx)
          } else {
            // PostgreSQL's statement trigger never stands aside: a move around it instead.
            await sql`alter table payments disable trigger payments_counters_update`.execute(trx)
            await sql`update payments set settlement_status = 'batched' where id = ${id}`.execute(
              trx,
            )
            await sql`alter table payments enable trigger payments_counters_update`.execute(trx)
          }
        }),
      )
      const sides = await withStore(s.db, bothSides)
      expect(sides.counters).not.toEqual(sides.full)
      const found = await run('doctor', '--json')
      expect(found.code).toBe(8)
      expect([...found.json<Doctor>().counters.mismatches].sort()).toEqual([
        expect.stringMatching(
          /^payment counter of westlands stripe succeeded batched KES: the counter says count \d+, amount \d+; a full count gives count \d+, amount \d+$/,
        ),
        expect.stringMatching(/^payment counter of westlands stripe succeeded unsettled KES: /),
      ])
      // Without the guard row the same move counts row by row.
      await withStore(s.db, (st) =>
        st.write(async (trx) => {
          await sql`update payments set settlement_status = 'unsettled' where id = ${id}`.execute(
            trx,
          )
        }),
      )
      expect((await run('doctor', '--json')).code).toBe(8) // still off by the skipped move
      expect((await run('doctor', '--repair-counters', '--json')).code).toBe(0)
      await expectExact()
    })

    it('control: a guard row left committed is found by dsh doctor, stops a SQLite run, and the repair clears it', async () => {
      await withStore(s.db, (st) =>
        st.write(async (trx) => {
          await sql`insert into payment_counts_bulk (id) values (1)`.execute(trx)
        }),
      )
      const sides = await withStore(s.db, bothSides)
      expect(sides.guards).toBe(1)
      const found = await run('doctor', '--json')
      expect(found.code).toBe(8)
      expect(found.json<Doctor>().counters.mismatches).toEqual([
        "payment_counts_bulk holds 1 row: the payment counters stand aside for unsettled → batched moves (a settlement run's guard was committed)",
      ])
      const id = 'pc_control2'
      await addPayments(s.db, [
        { ...(PAYMENTS[1] as PaymentSpec), id, completedAt: '2026-11-30T10:00:00.000Z' },
      ])
      if (name === 'sqlite') {
        const before = await statuses()
        const batches = await batchCount()
        // the next day's period: this one already has its live batches
        const stopped = await settle('2026-12-01')
        expect(stopped.code).toBe(7)
        expect(stopped.stderr).toContain('payment_counts_bulk is not empty')
        expect(stopped.stderr).toContain('dsh doctor --repair-counters')
        expect(await statuses()).toEqual(before)
        expect(await batchCount()).toBe(batches)
      }
      const repaired = await run('doctor', '--repair-counters', '--json')
      expect(repaired.code, repaired.stderr).toBe(0)
      expect(repaired.json<Doctor>().counters.repaired).toBe(1)
      await expectExact()
      const after = await settle('2026-12-01')
      expect(after.code, after.stderr).toBe(0)
      expect(after.json<Report>().batches.map((b) => [b.gateway, b.paymentCount])).toEqual([
        ['cash', 1],
      ])
      expect((await statuses())[id]).toBe('batched')
      await expectExact()
    })
  })
})
