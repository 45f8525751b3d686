import { beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.js'
import {
  cutoffsBetween,
  isScheduledDay,
  localToUtc,
  parseRunDate,
  type Schedule,
  scheduledAfter,
  scheduledBefore,
} from '../../src/core/schedule.js'
import { daemonJobs } from '../../src/daemon/scheduler.js'
import { runDueSettlements } from '../../src/settlement/jobs.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess, testRuntime } from '../helpers/run-cli.js'
import { addPayments, fixedClock, ok, seedSettlement, withStore } from './helpers.js'

const NBO = 'Africa/Nairobi'
const iso = (d: Date) => d.toISOString()
const weekly: Schedule = { kind: 'weekly', at: '18:00', weekday: 'fri', day: null }
const monthlyLast: Schedule = { kind: 'monthly', at: '02:00', weekday: null, day: 'last' }
const monthly28: Schedule = { kind: 'monthly', at: '23:30', weekday: null, day: '28' }

describe('period arithmetic (pure)', () => {
  it('local time in Africa/Nairobi (UTC+3, no DST) and elsewhere to UTC', () => {
    expect(iso(localToUtc('2026-11-30', '02:00', NBO))).toBe('2026-11-29T23:00:00.000Z')
    expect(iso(localToUtc('2026-03-08', '12:00', 'America/New_York'))).toBe(
      '2026-03-08T16:00:00.000Z',
    )
    expect(iso(localToUtc('2026-03-07', '12:00', 'America/New_York'))).toBe(
      '2026-03-07T17:00:00.000Z',
    )
  })

  it('weekly: Fridays at 18:00 across the end of November', () => {
    expect(isScheduledDay(weekly, '2026-11-27')).toBe(true)
    expect(isScheduledDay(weekly, '2026-11-28')).toBe(false)
    const cut = localToUtc('2026-12-04', '18:00', NBO)
    expect(iso(scheduledBefore(weekly, NBO, cut))).toBe('2026-11-27T15:00:00.000Z')
    expect(iso(scheduledAfter(weekly, NBO, new Date('2026-11-27T15:00:00.000Z')))).toBe(
      '2026-12-04T15:00:00.000Z',
    )
    expect(
      cutoffsBetween(
        weekly,
        NBO,
        new Date('2026-11-20T00:00:00Z'),
        new Date('2026-12-12T00:00:00Z'),
      ).map(iso),
    ).toEqual([
      '2026-11-20T15:00:00.000Z',
      '2026-11-27T15:00:00.000Z',
      '2026-12-04T15:00:00.000Z',
      '2026-12-11T15:00:00.000Z',
    ])
  })

  it('monthly on the last day: 30 November, 31 December, 28 February, 29 February in a leap year', () => {
    expect(
      cutoffsBetween(
        monthlyLast,
        NBO,
        new Date('2026-11-01T00:00:00Z'),
        new Date('2027-03-02T00:00:00Z'),
      ).map(iso),
    ).toEqual([
      '2026-11-29T23:00:00.000Z',
      '2026-12-30T23:00:00.000Z',
      '2027-01-30T23:00:00.000Z',
      '2027-02-27T23:00:00.000Z',
    ])
    expect(iso(scheduledAfter(monthlyLast, NBO, new Date('2028-02-01T00:00:00Z')))).toBe(
      '2028-02-28T23:00:00.000Z',
    )
    // the period of the 30 November run starts at the 31 October run
    expect(iso(scheduledBefore(monthlyLast, NBO, localToUtc('2026-11-30', '02:00', NBO)))).toBe(
      '2026-10-30T23:00:00.000Z',
    )
  })

  it('monthly on the 28th at 23:30 local is the 28th at 20:30 UTC; a local midnight crossing stays on its day', () => {
    expect(iso(scheduledAfter(monthly28, NBO, new Date('2026-11-28T20:30:00Z')))).toBe(
      '2026-12-28T20:30:00.000Z',
    )
    const early: Schedule = { kind: 'daily', at: '01:00', weekday: null, day: null }
    // 01:00 in Nairobi on 1 December is 22:00 UTC on 30 November
    expect(iso(scheduledAfter(early, NBO, new Date('2026-11-30T21:00:00Z')))).toBe(
      '2026-11-30T22:00:00.000Z',
    )
  })

  it('run dates are real calendar days', () => {
    expect(parseRunDate('2028-02-29')).toBe('2028-02-29')
    for (const bad of ['2025-13-01', '2026-02-29', '2026-11-31', '26-11-30', 'today'])
      expect(() => parseRunDate(bad)).toThrow(/is not a calendar date/)
  })
})

describe.each(DIALECTS)('schedules on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('runs and catch-up', () => {
    const s = useStoreEnv(name)
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
    })

    it('a monthly (last day) account settles the month across its end; a weekly one its week', async () => {
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
        'monthly',
        '--day',
        'last',
        '--at',
        '02:00',
        '--holding-hours',
        '0',
      ])
      await addPayments(s.db, [
        // before the period (31 Oct 01:59 local): still unsettled, so it is carried in
        {
          id: 'p_m0',
          branch: 'westlands',
          gateway: 'cash',
          amount: 100000n,
          currency: 'KES',
          completedAt: '2026-10-30T22:59:00.000Z',
          fee: { rateBp: 0, flat: 0n, convBp: 0 },
        },
        // inside, and exactly at the cut-off (30 Nov 02:00 local = 29 Nov 23:00 UTC)
        {
          id: 'p_m1',
          branch: 'westlands',
          gateway: 'cash',
          amount: 200000n,
          currency: 'KES',
          completedAt: '2026-11-15T10:00:00.000Z',
          fee: { rateBp: 0, flat: 0n, convBp: 0 },
        },
        {
          id: 'p_m2',
          branch: 'westlands',
          gateway: 'cash',
          amount: 300000n,
          currency: 'KES',
          completedAt: '2026-11-29T23:00:00.000Z',
          fee: { rateBp: 0, flat: 0n, convBp: 0 },
        },
        // one second after: the next month
        {
          id: 'p_m3',
          branch: 'westlands',
          gateway: 'cash',
          amount: 400000n,
          currency: 'KES',
          completedAt: '2026-11-29T23:00:01.000Z',
          fee: { rateBp: 0, flat: 0n, convBp: 0 },
        },
      ])
      const clock = fixedClock('2026-12-01T06:00:00.000Z')
      const r = await runInProcess(
        ['settle', '--branch', 'westlands', '--date', '2026-11-30', '--json'],
        { env: s.env, clock },
      )
      expect(r.code, r.stderr).toBe(0)
      expect(r.json<{ batches: unknown[] }>().batches).toEqual([
        expect.objectContaining({
          periodStart: '2026-10-30T23:00:00.000Z',
          periodEnd: '2026-11-29T23:00:00.000Z',
          paymentCount: 3,
          grossMinor: 600000,
        }),
      ])
      const next = (
        await runInProcess(['settlements', 'next', '--json'], { env: s.env, clock })
      ).json()
      expect(next).toEqual([
        {
          branch: 'westlands',
          currency: 'KES',
          schedule: 'monthly last 02:00',
          auto: false,
          nextRunAt: '2026-12-30T23:00:00.000Z',
          periodStart: '2026-11-29T23:00:00.000Z',
          periodEnd: '2026-12-30T23:00:00.000Z',
        },
      ])
      await ok(s.env, [
        'branch',
        'settlement-account',
        'westlands',
        '--schedule',
        'weekly',
        '--weekday',
        'fri',
        '--at',
        '18:00',
      ])
      const w = await runInProcess(
        ['settle', '--branch', 'westlands', '--date', '2026-12-04', '--json'],
        { env: s.env, clock },
      )
      expect(w.json<{ batches: unknown[] }>().batches).toEqual([
        expect.objectContaining({
          periodStart: '2026-11-27T15:00:00.000Z',
          periodEnd: '2026-12-04T15:00:00.000Z',
          paymentCount: 1,
          grossMinor: 400000,
        }),
      ])
    })

    it('the settlement job catches up on every missed period once, oldest first', async () => {
      const jobs = await daemonJobs(createApp(testRuntime({ env: s.env }).rt, {}), {
        recovery: { pendingMs: [100000], unknownMs: [1000] },
        recoveryCron: '*/5 * * * * *',
        dbSpec: s.db,
      })
      expect(jobs.find((j) => j.name === 'settlement')).toMatchObject({ cron: '0 * * * * *' })

      await ok(s.env, [
        'branch',
        'settlement-account',
        'westlands',
        '--schedule',
        'daily',
        '--at',
        '02:00',
        '--auto',
      ])
      await withStore(s.db, (st) =>
        st.db
          .updateTable('settlement_accounts')
          .set({ created_at: '2026-12-05T00:00:00.000Z' })
          .execute(),
      )
      await addPayments(
        s.db,
        ['2026-12-05T10:00:00.000Z', '2026-12-06T10:00:00.000Z', '2026-12-07T10:00:00.000Z'].map(
          (at, i) => ({
            id: `p_d${i}`,
            branch: 'westlands',
            // a transfer gateway: the catch-up sends each period's transfer (cash is banked)
            gateway: 'mpesa',
            amount: BigInt(100000 * (i + 1)),
            currency: 'KES',
            completedAt: at,
            fee: { rateBp: 0, flat: 0n, convBp: 0 },
          }),
        ),
      )
      // the daemon was down from 5 December; it comes back on 8 December at 09:00 local
      const clock = fixedClock('2026-12-08T06:00:00.000Z')
      const app = createApp(testRuntime({ env: s.env, clock }).rt, {})
      try {
        const r = await runDueSettlements(app)
        expect(r).toMatchObject({ ran: 3, batches: 3, sent: 3, errors: [] })
        const runs = await withStore(s.db, (st) =>
          st.db.selectFrom('settlement_runs').selectAll().orderBy('period_end').execute(),
        )
        expect(
          runs.filter((x) => x.period_end >= '2026-12-05').map((x) => [x.period_end, x.outcome]),
        ).toEqual([
          ['2026-12-05T23:00:00.000Z', 'batched'],
          ['2026-12-06T23:00:00.000Z', 'batched'],
          ['2026-12-07T23:00:00.000Z', 'batched'],
        ])
        const list = (await runInProcess(['settlements', 'list', '--json'], { env: s.env })).json<
          { periodEnd: string; grossMinor: number }[]
        >()
        expect(list.slice(0, 3).map((b) => [b.periodEnd, b.grossMinor])).toEqual([
          ['2026-12-07T23:00:00.000Z', 300000],
          ['2026-12-06T23:00:00.000Z', 200000],
          ['2026-12-05T23:00:00.000Z', 100000],
        ])
        // once each: the next tick has nothing to do; a carried-over period is remembered too
        expect(await runDueSettlements(app)).toMatchObject({ ran: 0 })
        clock.set('2026-12-09T06:00:00.000Z')
        expect(await runDueSettlements(app)).toMatchObject({ ran: 1, batches: 0 })
        expect(await runDueSettlements(app)).toMatchObject({ ran: 0 })
      } finally {
        await app.close()
      }
    })
  })
})
