import { type Kysely, sql } from 'kysely'
import { dialectOf } from '../store/connect.js'
import type { Database } from '../store/schema.js'

/*
 * The counter tables (migration 2026_11_29_0012_counters) are kept by triggers in the same
 * transaction as every payment or inbox move. Here: reading them as a full count would (for the
 * doctor's check), and rebuilding them from one.
 */

/** Milliseconds from creation to completion of a succeeded payment, 0 for any other. */
export function processingMsSql(db: Kysely<Database>) {
  return dialectOf(db) === 'postgres'
    ? sql<string>`case when status = 'succeeded' and completed_at is not null then round(extract(epoch from (completed_at::timestamptz - created_at::timestamptz)) * 1000)::bigint else 0 end`
    : sql<string>`case when status = 'succeeded' and completed_at is not null then cast(round((julianday(completed_at) - julianday(created_at)) * 86400000.0) as integer) else 0 end`
}
const completedSql = sql<string>`case when status = 'succeeded' and completed_at is not null then 1 else 0 end`
const gatewayKey = sql<string>`coalesce(gateway, '')`
const hourKey = sql<string>`substr(created_at, 1, 13)`

const big = (v: unknown) => BigInt((v ?? 0) as string | number | bigint)

export interface TotalsRow {
  tenant_id: string
  branch_id: string
  gateway: string
  status: string
  settlement_status: string
  currency: string
  count: bigint
  amount_minor: bigint
}
export interface HourRow {
  tenant_id: string
  branch_id: string
  hour: string
  status: string
  method: string
  gateway: string
  currency: string
  count: bigint
  amount_minor: bigint
  completed_count: bigint
  processing_ms: bigint
}
export interface InboxRow {
  gateway: string
  status: string
  count: bigint
  duplicates: bigint
}

/** payment_counts as a full count of `payments` has it. */
const totalsFromPayments = (db: Kysely<Database>) =>
  db
    .selectFrom('payments')
    .select((eb) => [
      'tenant_id',
      'branch_id',
      gatewayKey.as('gateway'),
      'status',
      'settlement_status',
      'currency',
      eb.fn.countAll<string>().as('count'),
      sql<string>`coalesce(sum(amount_minor), 0)`.as('amount_minor'),
    ])
    .groupBy(['tenant_id', 'branch_id', gatewayKey, 'status', 'settlement_status', 'currency'])

const hoursFromPayments = (db: Kysely<Database>) =>
  db
    .selectFrom('payments')
    .select((eb) => [
      'tenant_id',
      'branch_id',
      hourKey.as('hour'),
      'status',
      'method',
      gatewayKey.as('gateway'),
      'currency',
      eb.fn.countAll<string>().as('count'),
      sql<string>`coalesce(sum(amount_minor), 0)`.as('amount_minor'),
      sql<string>`coalesce(sum(${completedSql}), 0)`.as('completed_count'),
      sql<string>`coalesce(sum(${processingMsSql(db)}), 0)`.as('processing_ms'),
    ])
    .groupBy(['tenant_id', 'branch_id', hourKey, 'status', 'method', gatewayKey, 'currency'])

const inboxFromEntries = (db: Kysely<Database>) =>
  db
    .selectFrom('callback_inbox')
    .select((eb) => [
      'gateway',
      'status',
      eb.fn.countAll<string>().as('count'),
      sql<string>`coalesce(sum(duplicates), 0)`.as('duplicates'),
    ])
    .groupBy(['gateway', 'status'])

const toTotals = (r: Record<string, unknown>): TotalsRow => ({
  tenant_id: r['tenant_id'] as string,
  branch_id: r['branch_id'] as string,
  gateway: r['gateway'] as string,
  status: r['status'] as string,
  settlement_status: r['settlement_status'] as string,
  currency: r['currency'] as string,
  count: big(r['count']),
  amount_minor: big(r['amount_minor']),
})
const toHour = (r: Record<string, unknown>): HourRow => ({
  tenant_id: r['tenant_id'] as string,
  branch_id: r['branch_id'] as string,
  hour: r['hour'] as string,
  status: r['status'] as string,
  method: r['method'] as string,
  gateway: r['gateway'] as string,
  currency: r['currency'] as string,
  count: big(r['count']),
  amount_minor: big(r['amount_minor']),
  completed_count: big(r['completed_count']),
  processing_ms: big(r['processing_ms']),
})
const toInbox = (r: Record<string, unknown>): InboxRow => ({
  gateway: r['gateway'] as string,
  status: r['status'] as string,
  count: big(r['count']),
  duplicates: big(r['duplicates']),
})

const PAYMENT_KEYS = [
  'tenant_id',
  'branch_id',
  'gateway',
  'status',
  'settlement_status',
  'currency',
] as const
const HOUR_KEYS = [
  'tenant_id',
  'branch_id',
  'hour',
  'status',
  'method',
  'gateway',
  'currency',
] as const

/** A counter table summed per key (PostgreSQL keeps delta rows until they are folded). */
async function summed(
  db: Kysely<Database>,
  table: 'payment_counts' | 'payment_hour_counts' | 'inbox_counts',
  keys: readonly string[],
  sums: readonly string[],
): Promise<Record<string, unknown>[]> {
  const r = await sql<
    Record<string, unknown>
  >`select ${sql.join(keys.map((k) => sql.ref(k)))}, ${sql.join(
    sums.map((c) => sql`sum(${sql.ref(c)}) as ${sql.ref(c)}`),
  )} from ${sql.table(table)} group by ${sql.join(keys.map((k) => sql.ref(k)))}`.execute(db)
  return r.rows
}

/** Both sides of the check: what the counters hold and what a full count gives. */
export async function countersAndFullCount(db: Kysely<Database>) {
  const read = async (d: Kysely<Database>) => ({
    counters: {
      totals: (await summed(d, 'payment_counts', PAYMENT_KEYS, ['count', 'amount_minor'])).map(
        toTotals,
      ),
      hours: (
        await summed(d, 'payment_hour_counts', HOUR_KEYS, [
          'count',
          'amount_minor',
          'completed_count',
          'processing_ms',
        ])
      ).map(toHour),
      inbox: (await summed(d, 'inbox_counts', ['gateway', 'status'], ['count', 'duplicates'])).map(
        toInbox,
      ),
    },
    full: {
      totals: (await totalsFromPayments(d).execute()).map(toTotals),
      hours: (await hoursFromPayments(d).execute()).map(toHour),
      inbox: (await inboxFromEntries(d).execute()).map(toInbox),
    },
    /** Rows of payment_counts_bulk: 0 at every commit (a settlement run's guard, migration 0015). */
    bulkGuards: Number(
      (
        await d
          .selectFrom('payment_counts_bulk')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    ),
  })
  // One snapshot for both sides: a daemon may be moving payments meanwhile.
  if (db.isTransaction) return read(db)
  return dialectOf(db) === 'postgres'
    ? db.transaction().setIsolationLevel('repeatable read').execute(read)
    : db.transaction().execute(read)
}

/** Replaces every counter with a full count, inside the caller's write transaction. */
export async function rebuildCounterTables(trx: Kysely<Database>): Promise<void> {
  if (dialectOf(trx) === 'postgres')
    // Moves wait until the rebuild commits; the counts then read everything committed before.
    await sql`lock table payment_counts, payment_hour_counts, inbox_counts in exclusive mode`.execute(
      trx,
    )
  // A guard row left by a settlement run's bulk move (never committed unless by a fault) would keep
  // the row trigger standing aside for unsettled → batched moves (SQLite, migration 0015).
  await trx.deleteFrom('payment_counts_bulk').execute()
  await trx.deleteFrom('payment_counts').execute()
  await trx.deleteFrom('payment_hour_counts').execute()
  await trx.deleteFrom('inbox_counts').execute()
  await trx
    .insertInto('payment_counts')
    .columns([
      'tenant_id',
      'branch_id',
      'gateway',
      'status',
      'settlement_status',
      'currency',
      'count',
      'amount_minor',
    ])
    .expression(totalsFromPayments(trx) as never)
    .execute()
  await trx
    .insertInto('payment_hour_counts')
    .columns([
      'tenant_id',
      'branch_id',
      'hour',
      'status',
      'method',
      'gateway',
      'currency',
      'count',
      'amount_minor',
      'completed_count',
      'processing_ms',
    ])
    .expression(hoursFromPayments(trx) as never)
    .execute()
  await trx
    .insertInto('inbox_counts')
    .columns(['gateway', 'status', 'count', 'duplicates'])
    .expression(inboxFromEntries(trx) as never)
    .execute()
}
