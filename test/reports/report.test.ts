import { describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/connect.js'
import { dsh } from '../helpers/cli.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'

interface Seed {
  id: string
  branch: 'westlands' | 'kampala'
  status: string
  method: string
  gateway: string | null
  currency: string
  amountMinor: bigint
  createdAt: string
}

/** A small deterministic generator, so the seed is the same on every run and dialect. */
function rng(seed: number) {
  let s = seed
  return (n: number) => {
    s = (s * 1103515245 + 12345) % 2 ** 31
    return s % n
  }
}

const STATUSES = [
  'succeeded',
  'succeeded',
  'succeeded',
  'failed',
  'cancelled',
  'pending',
  'unknown',
]
const METHODS: [string, string][] = [
  ['mpesa', 'mpesa'],
  ['card', 'stripe'],
  ['cash', 'cash'],
]

/**
 * 300 payments over 2026-11-28 and -29 in Nairobi (UTC+3) and Kampala (UTC+3), some in the last
 * hour before local midnight and the first after it, in KES and UGX, in every status.
 */
function seed(): Seed[] {
  const r = rng(42)
  const out: Seed[] = []
  for (let i = 0; i < 300; i++) {
    const branch = i % 3 === 0 ? 'kampala' : 'westlands'
    const [method, gateway] = METHODS[r(3)]!
    const status = STATUSES[r(STATUSES.length)]!
    const currency = branch === 'kampala' ? (r(4) === 0 ? 'KES' : 'UGX') : 'KES'
    // Minutes from 2026-11-27T20:00Z (local 23:00 on the 27th) over 52 hours.
    const at = new Date(Date.UTC(2026, 10, 27, 20, 0) + r(52 * 60) * 60_000 + r(60) * 1000)
    out.push({
      id: `pay_seed_${String(i).padStart(4, '0')}`,
      branch,
      status,
      method,
      gateway: status === 'pending' && r(2) === 0 ? null : gateway,
      currency,
      amountMinor: BigInt(currency === 'UGX' ? 100 + r(900_000) : 100 + r(5_000_000)),
      createdAt: at.toISOString(),
    })
  }
  return out
}

/** What the report must say, computed here from the seed alone. */
function expected(rows: Seed[], branch: string, dayStartUtc: string, dayEndUtc: string) {
  const inDay = rows.filter(
    (p) => p.branch === branch && p.createdAt >= dayStartUtc && p.createdAt < dayEndUtc,
  )
  const n = (s: string) => inDay.filter((p) => p.status === s).length
  const succeeded = n('succeeded')
  const final = succeeded + n('failed') + n('cancelled')
  // Half-up on integers: floor((2·a·10000 + b) / 2b).
  const bp = final === 0 ? null : Math.floor((2 * succeeded * 10_000 + final) / (2 * final))
  const totals = new Map<string, { count: number; sum: bigint }>()
  for (const p of inDay.filter((x) => x.status === 'succeeded')) {
    const t = totals.get(p.currency) ?? { count: 0, sum: 0n }
    t.count++
    t.sum += p.amountMinor
    totals.set(p.currency, t)
  }
  return {
    count: inDay.length,
    succeededCount: succeeded,
    failedCount: n('failed'),
    cancelledCount: n('cancelled'),
    openCount: n('pending') + n('unknown'),
    successRateBp: bp,
    totals: [...totals.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([currency, t]) => ({ currency, count: t.count, amountMinor: Number(t.sum) })),
  }
}

describe.each(DIALECTS)('dsh report on $name', ({ name, enabled }) => {
  const env = useStoreEnv(name)
  const run = (...args: string[]) => dsh(args, { env: env.env, timeoutMs: 30_000 })
  const rows = seed()

  it.runIf(enabled)(
    'figures equal an independent computation, per branch and across',
    async () => {
      for (const args of [
        ['init'],
        ['tenant', 'add', 'acme', '--name', 'Acme', '--currency', 'KES'],
        ['branch', 'add', 'westlands', '--tenant', 'acme', '--name', 'W', '--currency', 'KES'],
        [
          'branch',
          'add',
          'kampala',
          '--tenant',
          'acme',
          '--name',
          'K',
          '--currency',
          'UGX',
          '--timezone',
          'Africa/Kampala',
        ],
      ]) {
        const r = await run(...args)
        expect(r.code, r.stderr).toBe(0)
      }
      const store = await openStore(env.db)
      try {
        const branches = await store.db
          .selectFrom('branches')
          .select(['id', 'code', 'tenant_id'])
          .execute()
        const idOf = new Map(branches.map((b) => [b.code, b]))
        await store.write(async (trx) => {
          for (const p of rows) {
            const b = idOf.get(p.branch)!
            await trx
              .insertInto('payments')
              .values({
                id: p.id,
                tenant_id: b.tenant_id,
                branch_id: b.id,
                order_id: null,
                amount_minor: p.amountMinor,
                currency: p.currency,
                refunded_minor: 0n,
                method: p.method,
                customer_type: 'regular',
                phone: null,
                gateway: p.gateway,
                status: p.status,
                failure_code: null,
                failure_message: null,
                routing: '{}',
                idempotency_key: null,
                receipt_number: null,
                gateway_ref: null,
                fee_minor: null,
                fee_rate_bp: null,
                fee_flat_minor: null,
                fee_currency: null,
                settlement_status: 'unsettled',
                settlement_batch_id: null,
                next_check_at: null,
                check_count: 0,
                created_at: p.createdAt,
                updated_at: p.createdAt,
                completed_at: ['succeeded', 'failed', 'cancelled'].includes(p.status)
                  ? new Date(Date.parse(p.createdAt) + 30_000).toISOString()
                  : null,
              })
              .execute()
          }
        })
      } finally {
        await store.close()
      }

      // 2026-11-28 in Nairobi and Kampala (both UTC+3): 2026-11-27T21:00Z to 2026-11-28T21:00Z.
      const [start, end] = ['2026-11-27T21:00:00.000Z', '2026-11-28T21:00:00.000Z']
      for (const branch of ['westlands', 'kampala']) {
        const want = expected(rows, branch, start, end)
        const r = await run('report', '--branch', branch, '--date', '2026-11-28', '--json')
        expect(r.code, r.stderr).toBe(0)
        const got = JSON.parse(r.stdout) as Record<string, unknown> & {
          totals: { currency: string; count: number; amountMinor: number }[]
          hourly: { count: number }[]
          recent: unknown[]
        }
        expect({
          count: got['count'],
          succeededCount: got['succeededCount'],
          failedCount: got['failedCount'],
          cancelledCount: got['cancelledCount'],
          openCount: got['openCount'],
          successRateBp: got['successRateBp'],
          totals: got.totals.map((t) => ({
            currency: t.currency,
            count: t.count,
            amountMinor: t.amountMinor,
          })),
        }).toEqual(want)
        expect(got.hourly).toHaveLength(24)
        expect(got.hourly.reduce((a, h) => a + h.count, 0)).toBe(want.count)
        expect(got.recent).toHaveLength(Math.min(10, want.count))

        // The one-row-per-branch array agrees with --branch.
        const all = JSON.parse(
          (await run('report', '--date', '2026-11-28', '--json')).stdout,
        ) as Record<string, unknown>[]
        const mine = all.find((x) => x['branch'] === branch)!
        for (const k of ['count', 'succeededCount', 'successRateBp', 'successRate', 'totals'])
          expect(mine[k], k).toEqual(got[k])
      }

      // A range of days: both days, no hourly chart.
      const both = expected(
        rows,
        'westlands',
        '2026-11-27T21:00:00.000Z',
        '2026-11-29T21:00:00.000Z',
      )
      const range = JSON.parse(
        (
          await run(
            'report',
            '--branch',
            'westlands',
            '--from',
            '2026-11-28',
            '--to',
            '2026-11-29',
            '--json',
          )
        ).stdout,
      ) as { count: number; hourly: unknown }
      expect(range.count).toBe(both.count)
      expect(range.hourly).toBeNull()

      // Converted totals: none without a rate (and said), exact with one.
      const before = await run('report', '--date', '2026-11-28', '--json')
      const k = (JSON.parse(before.stdout) as { branch: string; converted: unknown }[]).find(
        (x) => x.branch === 'kampala',
      )!
      expect(k.converted).toBeNull()
      expect(before.stderr).toContain('no UGX→KES rate')
      expect(
        (await run('rates', 'set', 'UGX', 'KES', '0.0351', '--as-of', '2026-11-01')).code,
      ).toBe(0)
      expect((await run('rates', 'set', 'UGX', 'KES', '1e3')).code).toBe(3)
      const after = JSON.parse((await run('report', '--date', '2026-11-28', '--json')).stdout) as {
        branch: string
        converted: { amountMinor: number; rate: string }
      }[]
      const kd = expected(rows, 'kampala', start, end)
      const ugx = BigInt(kd.totals.find((t) => t.currency === 'UGX')?.amountMinor ?? 0)
      const kes = BigInt(kd.totals.find((t) => t.currency === 'KES')?.amountMinor ?? 0)
      // UGX (0 decimals) → KES cents at 0.0351: ugx × 351 / 100, half-up.
      const converted = kes + (ugx * 351n * 2n + 100n) / 200n
      const kc = after.find((x) => x.branch === 'kampala')!.converted
      expect(kc.rate).toBe('0.0351')
      expect(BigInt(kc.amountMinor)).toBe(converted)

      // CSV: a header and a line per branch and currency.
      const csv = await run('report', '--date', '2026-11-28', '--csv')
      const lines = csv.stdout.trim().split('\n')
      expect(lines[0]).toMatch(/^branch,tenant,timezone,from,to,count,/)
      expect(lines.length).toBeGreaterThan(2)

      // Bad input.
      expect((await run('report', '--date', '2026-02-30')).code).toBe(3)
      expect((await run('report', '--branch', 'nowhere')).code).toBe(4)
    },
    60_000,
  )
})
