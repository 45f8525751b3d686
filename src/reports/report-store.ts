import { type Kysely, sql } from 'kysely'
import { listNewestFirst } from '../store/rows.js'
import type { Database } from '../store/schema.js'
import { processingMsSql } from './counters-store.js'

export interface FigureRow {
  status: string
  method: string
  gateway: string | null
  currency: string
  count: number
  amountMinor: bigint
}

/*
 * The figures of [from, to) come from payment_hour_counts (kept by the store's triggers) for the
 * whole UTC hours inside the range, and from `payments` through its (branch_id, created_at)
 * index for the minutes at either edge that are not a whole hour (a day in a zone offset by a
 * half or a quarter hour): a cost that does not grow with the table.
 */

const HOUR = 3_600_000

/** The whole UTC hours inside [from, to) as hour keys, and the edge ranges left over. */
function split(from: string, to: string) {
  const f = Date.parse(from)
  const t = Date.parse(to)
  const hStart = Math.ceil(f / HOUR) * HOUR
  const hEnd = Math.floor(t / HOUR) * HOUR
  if (!(hStart < hEnd)) return { hours: null, edges: f < t ? [[from, to] as const] : [] }
  const a = new Date(hStart).toISOString()
  const b = new Date(hEnd).toISOString()
  const edges: (readonly [string, string])[] = []
  if (f < hStart) edges.push([from, a])
  if (hEnd < t) edges.push([b, to])
  return { hours: [a.slice(0, 13), b.slice(0, 13)] as const, edges }
}

const hourCounts = (db: Kysely<Database>, branchId: string, hours: readonly [string, string]) =>
  db
    .selectFrom('payment_hour_counts')
    .where('branch_id', '=', branchId)
    .where('hour', '>=', hours[0])
    .where('hour', '<', hours[1])

/**
 * Payments created in [from, to) by status × method × gateway × currency: a handful of rows.
 */
export async function paymentFigures(
  db: Kysely<Database>,
  branchId: string,
  from: string,
  to: string,
): Promise<FigureRow[]> {
  const { hours, edges } = split(from, to)
  const parts: FigureRow[] = []
  if (hours) {
    const rows = await hourCounts(db, branchId, hours)
      .select((eb) => [
        'status',
        'method',
        'gateway',
        'currency',
        eb.fn.sum<number | string | bigint>('count').as('n'),
        eb.fn.sum<number | string | bigint>('amount_minor').as('total'),
      ])
      .groupBy(['status', 'method', 'gateway', 'currency'])
      .execute()
    for (const r of rows)
      parts.push({
        status: r.status,
        method: r.method,
        gateway: r.gateway === '' ? null : r.gateway,
        currency: r.currency,
        count: Number(r.n),
        amountMinor: BigInt(r.total ?? 0),
      })
  }
  for (const [a, b] of edges) parts.push(...(await figuresOfPayments(db, branchId, a, b)))
  const merged = new Map<string, FigureRow>()
  for (const r of parts) {
    const k = [r.status, r.method, r.gateway ?? '', r.currency].join('\u0000')
    const m = merged.get(k)
    if (m) {
      m.count += r.count
      m.amountMinor += r.amountMinor
    } else merged.set(k, { ...r })
  }
  return [...merged.values()].filter((r) => r.count !== 0)
}

/** The same figures counted from `payments` (an edge of less than an hour). */
async function figuresOfPayments(
  db: Kysely<Database>,
  branchId: string,
  from: string,
  to: string,
): Promise<FigureRow[]> {
  const rows = await db
    .selectFrom('payments')
    .select((eb) => [
      'status',
      'method',
      'gateway',
      'currency',
      eb.fn.countAll<number | string>().as('n'),
      eb.fn.sum<number | string | bigint>('amount_minor').as('total'),
    ])
    .where('branch_id', '=', branchId)
    .where('created_at', '>=', from)
    .where('created_at', '<', to)
    .groupBy(['status', 'method', 'gateway', 'currency'])
    .execute()
  return rows.map((r) => ({
    status: r.status,
    method: r.method,
    gateway: r.gateway,
    currency: r.currency,
    count: Number(r.n),
    amountMinor: BigInt(r.total ?? 0),
  }))
}

/** Payments created per UTC hour (`YYYY-MM-DDTHH`) in [from, to), and how many succeeded. */
export async function hourlyCounts(
  db: Kysely<Database>,
  branchId: string,
  from: string,
  to: string,
): Promise<{ hour: string; count: number; succeeded: number }[]> {
  const { hours, edges } = split(from, to)
  const by = new Map<string, { hour: string; count: number; succeeded: number }>()
  const add = (hour: string, count: number, succeeded: number) => {
    const h = by.get(hour) ?? { hour, count: 0, succeeded: 0 }
    h.count += count
    h.succeeded += succeeded
    by.set(hour, h)
  }
  if (hours) {
    const rows = await hourCounts(db, branchId, hours)
      .select((eb) => [
        'hour',
        eb.fn.sum<number | string | bigint>('count').as('n'),
        eb.fn
          .sum<number | string | bigint>(sql`case when status = 'succeeded' then count else 0 end`)
          .as('ok'),
      ])
      .groupBy('hour')
      .execute()
    for (const r of rows) add(r.hour, Number(r.n), Number(r.ok))
  }
  const hour = sql<string>`substr(created_at, 1, 13)`
  for (const [a, b] of edges) {
    const rows = await db
      .selectFrom('payments')
      .select((eb) => [
        hour.as('hour'),
        eb.fn.countAll<number | string>().as('n'),
        eb.fn.count<number | string>('id').filterWhere('status', '=', 'succeeded').as('ok'),
      ])
      .where('branch_id', '=', branchId)
      .where('created_at', '>=', a)
      .where('created_at', '<', b)
      .groupBy(hour)
      .execute()
    for (const r of rows) add(r.hour, Number(r.n), Number(r.ok))
  }
  return [...by.values()].filter((h) => h.count !== 0)
}

/** Mean seconds from created to completed of the payments that succeeded in [from, to). */
export async function meanProcessingSeconds(
  db: Kysely<Database>,
  branchId: string,
  from: string,
  to: string,
): Promise<number | null> {
  const { hours, edges } = split(from, to)
  let ms = 0n
  let n = 0n
  if (hours) {
    const r = await hourCounts(db, branchId, hours)
      .select((eb) => [
        eb.fn.sum<number | string | bigint>('processing_ms').as('ms'),
        eb.fn.sum<number | string | bigint>('completed_count').as('n'),
      ])
      .executeTakeFirst()
    ms += BigInt(r?.ms ?? 0)
    n += BigInt(r?.n ?? 0)
  }
  for (const [a, b] of edges) {
    const r = await db
      .selectFrom('payments')
      .select((eb) => [
        eb.fn.sum<number | string | bigint>(processingMsSql(db)).as('ms'),
        eb.fn.count<number | string>('completed_at').as('n'),
      ])
      .where('branch_id', '=', branchId)
      .where('status', '=', 'succeeded')
      .where('created_at', '>=', a)
      .where('created_at', '<', b)
      .executeTakeFirst()
    ms += BigInt(r?.ms ?? 0)
    n += BigInt(r?.n ?? 0)
  }
  return n === 0n ? null : Number(ms) / Number(n) / 1000
}

/** The branch's newest payments created in [from, to). */
export const recentPayments = (
  db: Kysely<Database>,
  branchId: string,
  from: string,
  to: string,
  limit: number,
) =>
  listNewestFirst(
    db,
    'payments',
    'created_at',
    { branch_id: branchId },
    { since: from, until: to, limit },
  )

/**
 * Succeeded payments not yet settled, per currency and kind (from the counters the store's
 * triggers keep): `transfer`, what the next settlements will move (unsettled, every gateway but
 * cash); `deposit`, the cash the branch has taken and not yet banked (unsettled, or in a cash-up
 * awaiting its deposit).
 */
export async function pendingSettlement(
  db: Kysely<Database>,
  branchId: string,
): Promise<
  { kind: 'transfer' | 'deposit'; currency: string; count: number; amountMinor: bigint }[]
> {
  const rows = await db
    .selectFrom('payment_counts')
    .select((eb) => [
      'currency',
      sql<number>`case when gateway = 'cash' then 1 else 0 end`.as('cash'),
      eb.fn.sum<number | string | bigint>('count').as('n'),
      eb.fn.sum<number | string | bigint>('amount_minor').as('total'),
    ])
    .where('branch_id', '=', branchId)
    .where('status', '=', 'succeeded')
    .where((eb) =>
      eb.or([
        eb('settlement_status', '=', 'unsettled'),
        eb.and([eb('gateway', '=', 'cash'), eb('settlement_status', '=', 'batched')]),
      ]),
    )
    .groupBy(['currency', sql`case when gateway = 'cash' then 1 else 0 end`])
    .orderBy('currency')
    .execute()
  return rows
    .map((r) => ({
      kind: Number(r.cash) === 1 ? ('deposit' as const) : ('transfer' as const),
      currency: r.currency,
      count: Number(r.n),
      amountMinor: BigInt(r.total ?? 0),
    }))
    .filter((r) => r.count !== 0)
}

/** Succeeded, unsettled amounts per branch code and currency, store-wide (for /metrics). */
export async function pendingSettlementAll(
  db: Kysely<Database>,
): Promise<{ branch: string; currency: string; amountMinor: bigint }[]> {
  const rows = await db
    .selectFrom('payment_counts')
    .innerJoin('branches', 'branches.id', 'payment_counts.branch_id')
    .select((eb) => [
      'branches.code as branch',
      'payment_counts.currency as currency',
      eb.fn.sum<number | string | bigint>('payment_counts.count').as('n'),
      eb.fn.sum<number | string | bigint>('payment_counts.amount_minor').as('total'),
    ])
    .where('payment_counts.status', '=', 'succeeded')
    .where('payment_counts.settlement_status', '=', 'unsettled')
    .groupBy(['branches.code', 'payment_counts.currency'])
    .orderBy('branches.code')
    .orderBy('payment_counts.currency')
    .execute()
  return rows
    .filter((r) => BigInt(r.n ?? 0) !== 0n)
    .map((r) => ({
      branch: r.branch,
      currency: r.currency,
      amountMinor: BigInt(r.total ?? 0),
    }))
}
