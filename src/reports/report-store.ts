import { type Kysely, sql } from 'kysely'
import { dialectOf } from '../store/connect.js'
import { listNewestFirst } from '../store/rows.js'
import type { Database } from '../store/schema.js'

export interface FigureRow {
  status: string
  method: string
  gateway: string | null
  currency: string
  count: number
  amountMinor: bigint
}

/**
 * Payments created in [from, to) by status × method × gateway × currency: a handful of rows,
 * read through the (branch_id, created_at) index.
 */
export async function paymentFigures(
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
  const hour = sql<string>`substr(created_at, 1, 13)`
  const rows = await db
    .selectFrom('payments')
    .select((eb) => [
      hour.as('hour'),
      eb.fn.countAll<number | string>().as('n'),
      eb.fn.count<number | string>('id').filterWhere('status', '=', 'succeeded').as('ok'),
    ])
    .where('branch_id', '=', branchId)
    .where('created_at', '>=', from)
    .where('created_at', '<', to)
    .groupBy(hour)
    .execute()
  return rows.map((r) => ({ hour: r.hour, count: Number(r.n), succeeded: Number(r.ok) }))
}

/** Mean seconds from created to completed of the payments that succeeded in [from, to). */
export async function meanProcessingSeconds(
  db: Kysely<Database>,
  branchId: string,
  from: string,
  to: string,
): Promise<number | null> {
  const seconds =
    dialectOf(db) === 'postgres'
      ? sql<number>`avg(extract(epoch from (completed_at::timestamptz - created_at::timestamptz)))`
      : sql<number>`avg((julianday(completed_at) - julianday(created_at)) * 86400.0)`
  const r = await db
    .selectFrom('payments')
    .select(seconds.as('s'))
    .where('branch_id', '=', branchId)
    .where('status', '=', 'succeeded')
    .where('created_at', '>=', from)
    .where('created_at', '<', to)
    .executeTakeFirst()
  return r?.s === null || r?.s === undefined ? null : Number(r.s)
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

/** Succeeded payments not yet settled, per currency: what the next settlements will move. */
export async function pendingSettlement(
  db: Kysely<Database>,
  branchId: string,
): Promise<{ currency: string; count: number; amountMinor: bigint }[]> {
  const rows = await db
    .selectFrom('payments')
    .select((eb) => [
      'currency',
      eb.fn.countAll<number | string>().as('n'),
      eb.fn.sum<number | string | bigint>('amount_minor').as('total'),
    ])
    .where('branch_id', '=', branchId)
    .where('status', '=', 'succeeded')
    .where('settlement_status', '=', 'unsettled')
    .groupBy('currency')
    .orderBy('currency')
    .execute()
  return rows.map((r) => ({
    currency: r.currency,
    count: Number(r.n),
    amountMinor: BigInt(r.total ?? 0),
  }))
}

/** Succeeded, unsettled amounts per branch code and currency, store-wide (for /metrics). */
export async function pendingSettlementAll(
  db: Kysely<Database>,
): Promise<{ branch: string; currency: string; amountMinor: bigint }[]> {
  const rows = await db
    .selectFrom('payments')
    .innerJoin('branches', 'branches.id', 'payments.branch_id')
    .select((eb) => [
      'branches.code as branch',
      'payments.currency as currency',
      eb.fn.sum<number | string | bigint>('payments.amount_minor').as('total'),
    ])
    .where('payments.status', '=', 'succeeded')
    .where('payments.settlement_status', '=', 'unsettled')
    .groupBy(['branches.code', 'payments.currency'])
    .execute()
  return rows.map((r) => ({
    branch: r.branch,
    currency: r.currency,
    amountMinor: BigInt(r.total ?? 0),
  }))
}
