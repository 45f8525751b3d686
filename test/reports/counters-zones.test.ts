import { describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/connect.js'
import { dsh } from '../helpers/cli.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'

/**
 * `dsh report` reads its figures from hourly counters (UTC hours) plus, in a zone whose day does
 * not start on a UTC hour (Kathmandu +5:45, Kolkata +5:30), the edge minutes from `payments`.
 * The figures equal an independent computation from the seed, for a day and a range of days,
 * before and after moves (status and settlement changes made after the payments were counted).
 */

interface Seed {
  id: string
  branch: string
  status: string
  method: string
  gateway: string | null
  amountMinor: bigint
  createdAt: string
  completedAt: string | null
}

function rng(seed: number) {
  let s = seed
  return (n: number) => {
    s = (s * 1103515245 + 12345) % 2 ** 31
    return s % n
  }
}

const BRANCHES = [
  { code: 'ktm', zone: 'Asia/Kathmandu', offsetMin: 345 },
  { code: 'blr', zone: 'Asia/Kolkata', offsetMin: 330 },
]
const STATUSES = ['succeeded', 'succeeded', 'succeeded', 'failed', 'cancelled', 'pending']
const METHODS: [string, string][] = [
  ['mpesa', 'mpesa'],
  ['card', 'stripe'],
  ['cash', 'cash'],
]

function seed(): Seed[] {
  const r = rng(7)
  const out: Seed[] = []
  for (let i = 0; i < 400; i++) {
    const b = BRANCHES[i % 2]!
    const [method, gateway] = METHODS[r(3)]!
    const status = STATUSES[r(STATUSES.length)]!
    // Over 2026-11-27T12:00Z + 60 hours, to the second.
    const at = Date.UTC(2026, 10, 27, 12, 0) + r(60 * 3600) * 1000 + r(1000)
    out.push({
      id: `pay_z_${String(i).padStart(4, '0')}`,
      branch: b.code,
      status,
      method,
      gateway: status === 'pending' && r(2) === 0 ? null : gateway,
      amountMinor: BigInt(100 + r(3_000_000)),
      createdAt: new Date(at).toISOString(),
      completedAt: status === 'pending' ? null : new Date(at + 1000 + r(600_000)).toISOString(),
    })
  }
  return out
}

/** [start, end) in UTC of local days `from`..`to` in a zone at a fixed offset. */
function range(offsetMin: number, from: string, to: string) {
  const start = Date.parse(`${from}T00:00:00.000Z`) - offsetMin * 60_000
  const end = Date.parse(`${to}T00:00:00.000Z`) + 86_400_000 - offsetMin * 60_000
  return [new Date(start).toISOString(), new Date(end).toISOString()] as const
}

function expected(rows: Seed[], branch: string, start: string, end: string, oneDay: boolean) {
  const inRange = rows.filter(
    (p) => p.branch === branch && p.createdAt >= start && p.createdAt < end,
  )
  const n = (s: string) => inRange.filter((p) => p.status === s).length
  const ok = inRange.filter((p) => p.status === 'succeeded')
  const byGateway = new Map<string, bigint>()
  for (const p of ok) byGateway.set(p.gateway!, (byGateway.get(p.gateway!) ?? 0n) + p.amountMinor)
  const secs = ok.map((p) => (Date.parse(p.completedAt!) - Date.parse(p.createdAt)) / 1000)
  const mean = secs.length ? secs.reduce((a, b) => a + b, 0) / secs.length : null
  // The report's hours: one per hour from the start, counting that UTC hour's payments in range.
  const hourly: number[] = []
  if (oneDay)
    for (let t = Date.parse(start); t < Date.parse(end); t += 3_600_000) {
      const key = new Date(t).toISOString().slice(0, 13)
      hourly.push(inRange.filter((p) => p.createdAt.startsWith(key)).length)
    }
  return {
    count: inRange.length,
    succeededCount: ok.length,
    failedCount: n('failed'),
    cancelledCount: n('cancelled'),
    openCount: n('pending'),
    total: ok.reduce((a, p) => a + p.amountMinor, 0n),
    byGateway: Object.fromEntries([...byGateway].map(([g, v]) => [g, Number(v)])),
    averageProcessingSeconds: mean === null ? null : Math.round(mean * 10) / 10,
    hourly: oneDay ? hourly : null,
  }
}

interface Report {
  count: number
  succeededCount: number
  failedCount: number
  cancelledCount: number
  openCount: number
  totals: { currency: string; amountMinor: number }[]
  byGateway: { gateway: string; amountMinor: number }[]
  averageProcessingSeconds: number | null
  hourly: { count: number }[] | null
  settlement: {
    pending: { currency: string; count: number; amountMinor: number }[]
    pendingDeposit: { currency: string; count: number; amountMinor: number }[]
  }
}

describe.each(DIALECTS)(
  'report figures from counters in half- and quarter-hour zones on $name',
  ({ name, enabled }) => {
    const env = useStoreEnv(name)
    const run = (...args: string[]) => dsh(args, { env: env.env, timeoutMs: 30_000 })
    const rows = seed()

    const check = async () => {
      for (const b of BRANCHES)
        for (const [from, to] of [
          ['2026-11-28', '2026-11-28'],
          ['2026-11-29', '2026-11-29'],
          ['2026-11-27', '2026-11-29'],
        ] as const) {
          const oneDay = from === to
          const [start, end] = range(b.offsetMin, from, to)
          const want = expected(rows, b.code, start, end, oneDay)
          const args = oneDay ? ['--date', from] : ['--from', from, '--to', to]
          const r = await run('report', '--branch', b.code, ...args, '--json')
          expect(r.code, r.stderr).toBe(0)
          const got = JSON.parse(r.stdout) as Report
          expect({
            count: got.count,
            succeededCount: got.succeededCount,
            failedCount: got.failedCount,
            cancelledCount: got.cancelledCount,
            openCount: got.openCount,
            total: BigInt(got.totals.find((t) => t.currency === 'KES')?.amountMinor ?? 0),
            byGateway: Object.fromEntries(got.byGateway.map((g) => [g.gateway, g.amountMinor])),
            averageProcessingSeconds: got.averageProcessingSeconds,
            hourly: got.hourly ? got.hourly.map((h) => h.count) : null,
          }).toEqual(want)
          // pending settlement is what transfers move; cash is a pending deposit (it is banked)
          const succeeded = rows.filter((p) => p.branch === b.code && p.status === 'succeeded')
          const sum = (ps: Seed[]) =>
            ps.length
              ? [
                  {
                    currency: 'KES',
                    count: ps.length,
                    amountMinor: Number(ps.reduce((a, p) => a + p.amountMinor, 0n)),
                  },
                ]
              : []
          expect(got.settlement.pending).toMatchObject(
            sum(succeeded.filter((p) => p.gateway !== 'cash')),
          )
          expect(got.settlement.pendingDeposit).toMatchObject(
            sum(succeeded.filter((p) => p.gateway === 'cash')),
          )
        }
    }

    it.runIf(enabled)(
      'equal an independent computation, before and after moves',
      async () => {
        const setup = [
          ['init'],
          ['tenant', 'add', 'acme', '--name', 'Acme', '--currency', 'KES'],
          ...BRANCHES.map((b) => [
            'branch',
            'add',
            b.code,
            '--tenant',
            'acme',
            '--name',
            b.code,
            '--currency',
            'KES',
            '--timezone',
            b.zone,
          ]),
        ]
        for (const args of setup) {
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
          const insert = (p: Seed) => {
            const b = idOf.get(p.branch)!
            return {
              id: p.id,
              tenant_id: b.tenant_id,
              branch_id: b.id,
              order_id: null,
              amount_minor: p.amountMinor,
              currency: 'KES',
              refunded_minor: 0n,
              method: p.method,
              customer_type: 'regular',
              phone: null,
              gateway: p.gateway,
              status: p.status === 'succeeded' ? 'pending' : p.status,
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
              completed_at: p.status === 'succeeded' ? null : p.completedAt,
            }
          }
          // Inserted pending, then moved to succeeded one by one and in one set-based statement.
          await store.write(async (trx) => {
            for (const p of rows) await trx.insertInto('payments').values(insert(p)).execute()
          })
          const ok = rows.filter((p) => p.status === 'succeeded')
          await store.write(async (trx) => {
            for (const p of ok.slice(0, 50))
              await trx
                .updateTable('payments')
                .set({ status: 'succeeded', completed_at: p.completedAt })
                .where('id', '=', p.id)
                .execute()
          })
          for (const p of ok.slice(50))
            await store.db
              .updateTable('payments')
              .set({ status: 'succeeded', completed_at: p.completedAt })
              .where('id', '=', p.id)
              .execute()
          await check()
          // A set-based settlement move and its release leave the report's figures where they were.
          await store.db
            .updateTable('payments')
            .set({ settlement_status: 'batched' })
            .where('status', '=', 'succeeded')
            .execute()
          const batched = await run('report', '--branch', 'ktm', '--json')
          expect(JSON.parse(batched.stdout).settlement.pending).toEqual([])
          // batched cash is still cash to bank (in a cash-up awaiting its deposit)
          expect(JSON.parse(batched.stdout).settlement.pendingDeposit).not.toEqual([])
          await store.db
            .updateTable('payments')
            .set({ settlement_status: 'unsettled' })
            .where('status', '=', 'succeeded')
            .execute()
          await check()
        } finally {
          await store.close()
        }
        const doctor = await run('doctor', '--json')
        expect(doctor.code, doctor.stdout).toBe(0)
      },
      120_000,
    )
  },
)
