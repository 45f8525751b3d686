import {
  type Expression,
  type Kysely,
  type Selectable,
  type SqlBool,
  sql,
  type Updateable,
} from 'kysely'
import { configError } from '../core/errors.js'
import { withBulkCache } from '../store/bulk.js'
import { dialectOf } from '../store/connect.js'
import type {
  Database,
  PaymentsTable,
  SettlementBatchesTable,
  SettlementBatchItemsTable,
} from '../store/schema.js'

export type BatchRow = Selectable<SettlementBatchesTable>
export type BatchItemRow = Selectable<SettlementBatchItemsTable>

/** Which payments a run may take: the branch's succeeded, unsettled, unrefunded ones. */
export interface Eligible {
  branchId: string
  currency: string
  /** completed_at ≤ this (the cut-off, or now − holding hours if earlier). */
  upTo: string
  gateway?: string | undefined
  /** Instead of currency: only payments not in these currencies (no settlement account). */
  notCurrencies?: readonly string[] | undefined
}

/**
 * The condition of the partial index payments_settle_idx (migration 0014), as literals: a bound
 * parameter would not let SQLite prove the query implies it, and the run would scan the table.
 */
const UNSETTLED = sql<boolean>`settlement_status = 'unsettled' and status = 'succeeded' and refunded_minor = 0`

function eligible(db: Kysely<Database>, e: Eligible) {
  let q = db
    .selectFrom('payments')
    .where('branch_id', '=', e.branchId)
    .where(UNSETTLED)
    .where('completed_at', '<=', e.upTo)
    .where('gateway', 'is not', null)
  if (e.notCurrencies) {
    if (e.notCurrencies.length > 0) q = q.where('currency', 'not in', e.notCurrencies)
  } else q = q.where('currency', '=', e.currency)
  if (e.gateway) q = q.where('gateway', '=', e.gateway)
  return q
}

/**
 * The conversion part of a recorded fee: fee − rate part (half-up, as `applyRate`) − flat part.
 * Integer arithmetic in SQL, the same on SQLite and PostgreSQL. `t` names the payments table.
 */
const conversionOf = (t: string) => {
  const c = (name: string) => sql.ref(`${t}.${name}`)
  return sql<string>`(${c('fee_minor')} - ((${c('amount_minor')} * coalesce(${c('fee_rate_bp')}, 0) * 2 + 10000) / 20000) - coalesce(${c('fee_flat_minor')}, 0))`
}
const conversionPart = conversionOf('payments')

/** Eligible payments whose fee was never recorded (fees are filled before a run). */
export const paymentsWithoutFee = (db: Kysely<Database>, e: Eligible) =>
  eligible(db, e)
    .select(['id', 'amount_minor', 'currency', 'gateway'])
    .where('fee_minor', 'is', null)
    .execute()

/** Eligible payments whose fee left out a flat part for want of a rate (`fee_without_rate`). */
export const paymentsAwaitingFeeRate = (db: Kysely<Database>, e: Eligible) =>
  eligible(db, e)
    .select([
      'id',
      'currency',
      'fee_minor',
      'fee_flat_source_minor',
      'fee_flat_source_currency',
      'fee_fx_as_of',
    ])
    // The partial index payments_fee_without_rate's own predicate, literally (no bound values).
    .where(
      sql<boolean>`fee_fx_rate is null and fee_flat_source_minor > 0 and settlement_status = 'unsettled'`,
    )
    .where('fee_minor', 'is not', null)
    .execute()

export const setPaymentFee = (
  db: Kysely<Database>,
  id: string,
  fee: Updateable<
    Pick<
      PaymentsTable,
      | 'fee_minor'
      | 'fee_rate_bp'
      | 'fee_flat_minor'
      | 'fee_currency'
      | 'fee_flat_source_minor'
      | 'fee_flat_source_currency'
      | 'fee_fx_rate'
      | 'fee_fx_as_of'
    >
  >,
) => db.updateTable('payments').set(fee).where('id', '=', id).execute()

export interface GatewayTotals {
  gateway: string
  currency: string
  /** How many have no recorded fee yet (filled before batching). */
  missingFees: number
  count: number
  gross: bigint
  fees: bigint
  conversion: bigint
}

const big = (v: unknown) => BigInt((v as string | number | bigint | null) ?? 0)

/** Σ amount, Σ fee and Σ conversion fee per gateway (and currency) of the eligible payments. */
export async function eligibleTotals(db: Kysely<Database>, e: Eligible): Promise<GatewayTotals[]> {
  const rows = await eligible(db, e)
    .select((eb) => [
      'gateway',
      'currency',
      eb.fn.countAll<string>().as('n'),
      eb.fn.sum<string>(sql`case when fee_minor is null then 1 else 0 end`).as('missing'),
      eb.fn.sum<string>('amount_minor').as('gross'),
      eb.fn.sum<string>(sql`coalesce(fee_minor, 0)`).as('fees'),
      eb.fn
        .sum<string>(sql`case when fee_minor is null then 0 else ${conversionPart} end`)
        .as('conversion'),
    ])
    .groupBy(['gateway', 'currency'])
    .orderBy('gateway')
    .orderBy('currency')
    .execute()
  return rows.map((r) => ({
    gateway: r.gateway as string,
    currency: r.currency,
    missingFees: Number(r.missing),
    count: Number(r.n),
    gross: big(r.gross),
    fees: big(r.fees),
    conversion: big(r.conversion),
  }))
}

/** Locks a settlement account's row for the run (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises). */
export async function lockAccount(db: Kysely<Database>, accountId: string) {
  let q = db.selectFrom('settlement_accounts').selectAll().where('id', '=', accountId)
  if (dialectOf(db) === 'postgres') q = q.forUpdate()
  return q.executeTakeFirst()
}

export const insertBatch = (db: Kysely<Database>, row: BatchRow) =>
  db.insertInto('settlement_batches').values(row).execute()

/** Adds a failed batch's released payments that are still unsettled to a new batch. */
export function insertItemsFrom(db: Kysely<Database>, batchId: string, fromBatchId: string) {
  return db
    .insertInto('settlement_batch_items')
    .columns(['batch_id', 'payment_id', 'amount_minor', 'fee_minor', 'conversion_fee_minor'])
    .expression(
      db
        .selectFrom('settlement_batch_items as i')
        .innerJoin('payments as p', 'p.id', 'i.payment_id')
        .select([
          sql<string>`${batchId}`.as('batch_id'),
          'i.payment_id',
          'i.amount_minor',
          'i.fee_minor',
          'i.conversion_fee_minor',
        ])
        .where('i.batch_id', '=', fromBatchId)
        .where('p.settlement_status', '=', 'unsettled')
        .where('p.status', '=', 'succeeded')
        .where('p.refunded_minor', '=', 0) as never,
    )
    .execute()
}

const liveItemsOf = (db: Kysely<Database>, batchId: string) =>
  db
    .selectFrom('settlement_batch_items')
    .select('payment_id')
    .where('batch_id', '=', batchId)
    .where('released_at', 'is', null)

/** Points the batch's payments at it: settlement_status batched. */
export const markBatched = (db: Kysely<Database>, batchId: string, now: string) =>
  db
    .updateTable('payments')
    .set({ settlement_status: 'batched', settlement_batch_id: batchId, updated_at: now })
    .where('id', 'in', liveItemsOf(db, batchId))
    .execute()

/** A batch's members: how many, Σ amount, Σ fee, Σ conversion part of the fee. */
export interface ItemTotals {
  count: number
  gross: bigint
  fees: bigint
  conversion: bigint
}
interface TotalsRow {
  batch_id: string
  n: unknown
  gross: unknown
  fees: unknown
  conversion: unknown
}
const TOTALS = sql`batch_id, count(*) as n, sum(amount_minor) as gross, sum(fee_minor) as fees, sum(conversion_fee_minor) as conversion`
const totalsOf = (r: Omit<TotalsRow, 'batch_id'>): ItemTotals => ({
  count: Number(r.n),
  gross: big(r.gross),
  fees: big(r.fees),
  conversion: big(r.conversion),
})

/** One batch a run fills, and which eligible payments go into it. */
export interface BatchTarget {
  batchId: string
  branchId: string
  currency: string
  gateway: string
  /** completed_at ≤ this (the account's cut-off, or now − holding hours if earlier). */
  upTo: string
  /** A cash-up's items carry no fee: the branch banks the whole amount. */
  kind: 'transfer' | 'cash_deposit'
}

/** Targets per statement: 6 parameters each, far below SQLite's and PostgreSQL's limits. */
const TARGETS_PER_STATEMENT = 1000

/** The run's targets as a `plan` CTE: (batch_id, branch_id, currency, gateway, up_to, fees). */
const planOf = (targets: readonly BatchTarget[]) =>
  sql`plan (batch_id, branch_id, currency, gateway, up_to, fees) as (values ${sql.join(
    targets.map(
      (t) =>
        sql`(${t.batchId}, ${t.branchId}, ${t.currency}, ${t.gateway}, ${t.upTo}, ${sql.lit(t.kind === 'cash_deposit' ? 0 : 1)})`,
    ),
  )})`

/** An item's fee and its conversion part: the payment's recorded ones, none in a cash-up. */
const itemFee = sql`case when plan.fees = 0 then 0 else p.fee_minor end`
const itemConversion = sql`case when plan.fees = 0 then 0 else ${conversionOf('p')} end`

/** The eligible payments `p` of each target of `plan` (reads only payments_settle_idx). */
const planMembers = sql`plan join payments p on p.branch_id = plan.branch_id
  and p.currency = plan.currency and p.gateway = plan.gateway and p.completed_at <= plan.up_to
  where p.settlement_status = 'unsettled' and p.status = 'succeeded' and p.refunded_minor = 0`

/**
 * unsettled → batched, for a whole run: every eligible payment of each target becomes an item of
 * its batch and points at it (`settlement_batch_id`, `settlement_status = 'batched'`), in a few
 * set-based statements whatever the number of payments — the same set for the items and the
 * payments. The counters (payment_counts) move in the same transaction.
 *
 * SQLite (inside BEGIN IMMEDIATE, one writer): the members are collected once from the covering
 * index into a temporary table keyed by the payment's rowid; the items are inserted from it and
 * the payments updated from it in rowid order, so each page of the payments table is written once
 * however many branches share it (a statement per branch rewrote each page once per branch); the
 * counters follow in one grouped upsert (`moveCounted`).
 * PostgreSQL: one statement, an UPDATE … FROM … RETURNING feeding the INSERT, so a payment
 * committed in between cannot slip in; the counters' statement triggers group the move.
 */
export async function batchPayments(
  db: Kysely<Database>,
  targets: readonly BatchTarget[],
  now: string,
): Promise<Map<string, ItemTotals>> {
  const totals = new Map<string, ItemTotals>()
  const add = (rows: readonly TotalsRow[]) => {
    for (const r of rows) totals.set(r.batch_id, totalsOf(r))
  }
  if (dialectOf(db) === 'postgres') {
    for (let i = 0; i < targets.length; i += TARGETS_PER_STATEMENT) {
      const chunk = targets.slice(i, i + TARGETS_PER_STATEMENT)
      const r = await sql<TotalsRow>`with ${planOf(chunk)}, moved as (
          update payments p set settlement_status = 'batched', settlement_batch_id = plan.batch_id, updated_at = ${now}
          from plan
          where p.branch_id = plan.branch_id and p.currency = plan.currency and p.gateway = plan.gateway
            and p.completed_at <= plan.up_to
            and p.settlement_status = 'unsettled' and p.status = 'succeeded' and p.refunded_minor = 0
          returning plan.batch_id, p.id, p.amount_minor, ${itemFee} as fee_minor, ${itemConversion} as conversion_fee_minor
        ), items as (
          insert into settlement_batch_items (batch_id, payment_id, amount_minor, fee_minor, conversion_fee_minor)
          select batch_id, id, amount_minor, fee_minor, conversion_fee_minor from moved
          returning batch_id, amount_minor, fee_minor, conversion_fee_minor
        )
        select ${TOTALS} from items group by batch_id`.execute(db)
      add(r.rows)
    }
    return totals
  }
  // A page cache big enough for the run's pages (the connection's default is 2 MiB), for this
  // statement sequence only: the move rewrites every page of a branch-interleaved payments table.
  await withBulkCache(db, async () => {
    await sql`create temp table settle_members (rid integer primary key, batch_id text not null,
      payment_id text not null, amount_minor integer not null, fee_minor integer not null,
      conversion_fee_minor integer not null)`.execute(db)
    for (let i = 0; i < targets.length; i += TARGETS_PER_STATEMENT) {
      const chunk = targets.slice(i, i + TARGETS_PER_STATEMENT)
      await sql`with ${planOf(chunk)}
        insert into temp.settle_members (rid, batch_id, payment_id, amount_minor, fee_minor, conversion_fee_minor)
        select p.rowid, plan.batch_id, p.id, p.amount_minor, ${itemFee}, ${itemConversion}
        from ${planMembers}`.execute(db)
    }
    await sql`insert into settlement_batch_items (batch_id, payment_id, amount_minor, fee_minor, conversion_fee_minor)
      select batch_id, payment_id, amount_minor, fee_minor, conversion_fee_minor
      from temp.settle_members order by rid`.execute(db)
    await moveCounted(db, now)
    add((await sql<TotalsRow>`select * from temp.settle_totals`.execute(db)).rows)
    await sql`drop table temp.settle_totals`.execute(db)
    await sql`drop table temp.settle_members`.execute(db)
  })
  return totals
}

/**
 * SQLite: moves the members of temp.settle_members unsettled → batched, and payment_counts with
 * them in one grouped upsert (per batch: −count and −Σ amount under 'unsettled', + under
 * 'batched', keyed by the batch's tenant, branch, gateway and currency, which are its members':
 * they were selected by branch, gateway and currency, and a payment takes its branch's tenant),
 * in place of the row trigger's two upserts per payment: `payment_counts_bulk` holds a row only around the UPDATE (migration 0015), inside the
 * caller's write transaction, so it is never committed (an error rolls the transaction back with
 * it). Leaves the per-batch totals in temp.settle_totals.
 */
async function moveCounted(db: Kysely<Database>, now: string): Promise<void> {
  const left = await sql<{ n: number }>`select count(*) as n from payment_counts_bulk`.execute(db)
  if (Number(left.rows[0]?.n ?? 0) > 0)
    throw configError(
      'counters_guard_left',
      'the payment counters were left standing aside for a bulk move that never finished (payment_counts_bulk is not empty), so they may be wrong',
      'run `dsh doctor --repair-counters`, then settle again',
    )
  await sql`insert into payment_counts_bulk (id) values (1)`.execute(db)
  // Walks the members in rowid order and seeks each payment (never a scan of payments).
  await sql`update payments set settlement_status = 'batched', updated_at = ${now},
      settlement_batch_id = (select m.batch_id from temp.settle_members m where m.rid = payments.rowid)
    where rowid in (select rid from temp.settle_members)`.execute(db)
  await sql`delete from payment_counts_bulk`.execute(db)
  await sql`create temp table settle_totals as select ${TOTALS}
    from temp.settle_members group by batch_id`.execute(db)
  await sql`insert into payment_counts
      (tenant_id, branch_id, gateway, status, settlement_status, currency, count, amount_minor)
    select b.tenant_id, b.branch_id, b.gateway, 'succeeded', s.settlement_status, b.currency,
      s.sign * t.n, s.sign * t.gross
    from temp.settle_totals t join settlement_batches b on b.id = t.batch_id
    cross join (select 'unsettled' as settlement_status, -1 as sign
      union all select 'batched', 1) s
    where true
    on conflict (tenant_id, branch_id, gateway, status, settlement_status, currency) do update set
      count = count + excluded.count, amount_minor = amount_minor + excluded.amount_minor`.execute(
    db,
  )
}

/** The batch's payments are paid out: settlement_status settled. */
export const markSettled = (db: Kysely<Database>, batchId: string, now: string) =>
  db
    .updateTable('payments')
    .set({ settlement_status: 'settled', updated_at: now })
    .where('id', 'in', liveItemsOf(db, batchId))
    .where('settlement_batch_id', '=', batchId)
    .execute()

/** Releases a failed or cancelled batch's payments to the next run. */
export async function releaseItems(db: Kysely<Database>, batchId: string, now: string) {
  await db
    .updateTable('payments')
    .set({ settlement_status: 'unsettled', settlement_batch_id: null, updated_at: now })
    .where('id', 'in', liveItemsOf(db, batchId))
    .where('settlement_batch_id', '=', batchId)
    .execute()
  await db
    .updateTable('settlement_batch_items')
    .set({ released_at: now })
    .where('batch_id', '=', batchId)
    .where('released_at', 'is', null)
    .execute()
}

/** Count and sums of a batch's items (all of them: released ones are still its history). */
export async function itemTotals(db: Kysely<Database>, batchId: string): Promise<ItemTotals> {
  const r = await db
    .selectFrom('settlement_batch_items')
    .select((eb) => [
      eb.fn.countAll<string>().as('n'),
      eb.fn.sum<string>('amount_minor').as('gross'),
      eb.fn.sum<string>('fee_minor').as('fees'),
      eb.fn.sum<string>('conversion_fee_minor').as('conversion'),
    ])
    .where('batch_id', '=', batchId)
    .executeTakeFirstOrThrow()
  return totalsOf(r)
}

export const updateBatch = (
  db: Kysely<Database>,
  id: string,
  changes: Updateable<SettlementBatchesTable>,
) => db.updateTable('settlement_batches').set(changes).where('id', '=', id).execute()

export const findBatch = (db: Kysely<Database>, id: string) =>
  db.selectFrom('settlement_batches').selectAll().where('id', '=', id).executeTakeFirst()

export function findBatchForUpdate(db: Kysely<Database>, id: string) {
  let q = db.selectFrom('settlement_batches').selectAll().where('id', '=', id)
  if (dialectOf(db) === 'postgres') q = q.forUpdate()
  return q.executeTakeFirst()
}

/** A branch's batch by the bank's transfer id or by its own id (the idempotency key). */
export function findBatchByTransfer(
  db: Kysely<Database>,
  branchId: string,
  transferId: string | undefined,
  batchId: string | undefined,
) {
  const ors: Expression<SqlBool>[] = []
  let q = db.selectFrom('settlement_batches').selectAll().where('branch_id', '=', branchId)
  q = q.where((eb) => {
    if (transferId) ors.push(eb('transfer_id', '=', transferId))
    if (batchId) ors.push(eb('id', '=', batchId))
    return eb.or(ors)
  })
  return q.executeTakeFirst()
}

export interface BatchFilter {
  branchId?: string | undefined
  tenantId?: string | undefined
  status?: string | undefined
  kind?: string | undefined
  gateway?: string | undefined
  since?: string | undefined
  limit?: number | undefined
  accountIds?: readonly string[] | undefined
}

export function listBatches(db: Kysely<Database>, f: BatchFilter) {
  let q = db.selectFrom('settlement_batches').selectAll()
  if (f.branchId) q = q.where('branch_id', '=', f.branchId)
  if (f.tenantId) q = q.where('tenant_id', '=', f.tenantId)
  if (f.status) q = q.where('status', '=', f.status)
  if (f.kind) q = q.where('kind', '=', f.kind)
  if (f.gateway) q = q.where('gateway', '=', f.gateway)
  if (f.since) q = q.where('created_at', '>=', f.since)
  if (f.accountIds) q = q.where('account_id', 'in', f.accountIds.length ? f.accountIds : [''])
  q = q.orderBy('created_at', 'desc').orderBy('id', 'desc')
  if (f.limit) q = q.limit(f.limit)
  return q.execute()
}

/** A batch's members with the payment fields the export and `show` need. */
export const batchMembers = (db: Kysely<Database>, batchId: string) =>
  db
    .selectFrom('settlement_batch_items as i')
    .innerJoin('payments as p', 'p.id', 'i.payment_id')
    .select([
      'i.payment_id',
      'i.amount_minor',
      'i.fee_minor',
      'i.conversion_fee_minor',
      'i.released_at',
      'p.completed_at',
      'p.receipt_number',
      'p.order_id',
      'p.currency',
    ])
    .where('i.batch_id', '=', batchId)
    .orderBy('p.completed_at')
    .orderBy('i.payment_id')
    .execute()

/** Records that a scheduled period ran (once; a later run of the same period updates it). */
export async function recordRun(
  db: Kysely<Database>,
  accountId: string,
  periodEnd: string,
  outcome: string,
  now: string,
) {
  await db
    .insertInto('settlement_runs')
    .values({ account_id: accountId, period_end: periodEnd, outcome, created_at: now })
    .onConflict((oc) => oc.columns(['account_id', 'period_end']).doUpdateSet({ outcome }))
    .execute()
}

export const runPeriods = (db: Kysely<Database>, accountId: string, since: string) =>
  db
    .selectFrom('settlement_runs')
    .select('period_end')
    .where('account_id', '=', accountId)
    .where('period_end', '>', since)
    .execute()

/** Settlement accounts with their branch (for runs and schedules). */
export function accountsWithBranch(
  db: Kysely<Database>,
  f: {
    branchId?: string | undefined
    autoOnly?: boolean | undefined
    transfer?: string | undefined
  },
) {
  let q = db
    .selectFrom('settlement_accounts as a')
    .innerJoin('branches as b', 'b.id', 'a.branch_id')
    .innerJoin('tenants as t', 't.id', 'b.tenant_id')
    .selectAll('a')
    .select([
      'b.code as branch_code',
      'b.timezone as branch_timezone',
      'b.currency as branch_currency',
      'b.tenant_id as tenant_id',
      't.slug as tenant_slug',
      't.timezone as tenant_timezone',
    ])
  if (f.branchId) q = q.where('a.branch_id', '=', f.branchId)
  if (f.autoOnly) q = q.where('a.auto', '=', 1)
  if (f.transfer) q = q.where('a.transfer', '=', f.transfer)
  return q.orderBy('b.code').orderBy('a.currency').execute()
}
export type AccountWithBranch = Awaited<ReturnType<typeof accountsWithBranch>>[number]

export const findAccountById = (db: Kysely<Database>, id: string) =>
  db.selectFrom('settlement_accounts').selectAll().where('id', '=', id).executeTakeFirst()

// --- doctor: whole-store invariant checks, each a single query ---

/** Batches whose totals differ from their items (live batches: live items; others: all). */
export const batchesForCheck = (db: Kysely<Database>) =>
  db.selectFrom('settlement_batches').selectAll().orderBy('created_at').execute()

export const allItems = (db: Kysely<Database>) =>
  db
    .selectFrom('settlement_batch_items')
    .selectAll()
    .orderBy('batch_id')
    .orderBy('payment_id')
    .execute()

/** What the checks read of a payment: its settlement state and recorded fee. */
const SETTLEMENT_FIELDS = [
  'id',
  'gateway',
  'settlement_status',
  'settlement_batch_id',
  'amount_minor',
  'fee_minor',
  'fee_rate_bp',
  'fee_flat_minor',
] as const

/** Payments that are batched or settled, or point at a batch. */
export const paymentsInSettlement = (db: Kysely<Database>) =>
  db
    .selectFrom('payments')
    .select(SETTLEMENT_FIELDS)
    .where((eb) =>
      eb.or([
        eb('settlement_status', '!=', 'unsettled'),
        eb('settlement_batch_id', 'is not', null),
      ]),
    )
    .execute()

export const paymentsByIds = (db: Kysely<Database>, ids: readonly string[]) =>
  ids.length === 0
    ? Promise.resolve([])
    : db.selectFrom('payments').select(SETTLEMENT_FIELDS).where('id', 'in', ids).execute()

const CHUNK = 500

/** Batches by id (locked on PostgreSQL, in id order), read in chunks. */
export async function findBatchesForUpdate(
  db: Kysely<Database>,
  ids: readonly string[],
): Promise<BatchRow[]> {
  const sorted = [...ids].sort()
  const out: BatchRow[] = []
  for (let i = 0; i < sorted.length; i += CHUNK) {
    let q = db
      .selectFrom('settlement_batches')
      .selectAll()
      .where('id', 'in', sorted.slice(i, i + CHUNK))
      .orderBy('id')
    if (dialectOf(db) === 'postgres') q = q.forUpdate()
    out.push(...(await q.execute()))
  }
  return out
}

/** A batch the bank paid: its reference on the statement and the amount it received. */
export interface BankConfirmation {
  id: string
  bankRef: string
  bankAmountMinor: bigint
}

/**
 * Completes batches in a few statements (chunks of 100): each gets status completed, its bank
 * reference and amount, and its live payments settlement_status settled; what `updateBatch` and
 * `markSettled` do for one batch.
 */
export async function completeBatches(
  db: Kysely<Database>,
  done: readonly BankConfirmation[],
  now: string,
  /** completed for transfers, deposited for cash-ups. */
  status: 'completed' | 'deposited' = 'completed',
): Promise<void> {
  // 100 a statement: each row's CASE looks through its chunk's ids (500 made it 4× slower).
  for (let i = 0; i < done.length; i += 100) {
    const part = done.slice(i, i + 100)
    const ids = part.map((d) => d.id)
    await db
      .updateTable('settlement_batches')
      .set({
        status,
        bank_ref: sql<string>`case ${sql.join(
          part.map((d) => sql`when ${sql.ref('id')} = ${d.id} then ${d.bankRef}`),
          sql` `,
        )} end`,
        bank_amount_minor: sql<bigint>`case ${sql.join(
          part.map(
            (d) => sql`when ${sql.ref('id')} = ${d.id} then cast(${d.bankAmountMinor} as bigint)`,
          ),
          sql` `,
        )} end`,
        completed_at: now,
        updated_at: now,
      })
      .where('id', 'in', ids)
      .execute()
    await db
      .updateTable('payments')
      .set({ settlement_status: 'settled', updated_at: now })
      .where('settlement_batch_id', 'in', ids)
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('settlement_batch_items')
          .select('payment_id')
          .where('batch_id', 'in', ids)
          .where('released_at', 'is', null),
      )
      .where(({ exists, selectFrom }) =>
        exists(
          selectFrom('settlement_batch_items as j')
            .select(sql`1`.as('one'))
            .whereRef('j.batch_id', '=', 'payments.settlement_batch_id')
            .whereRef('j.payment_id', '=', 'payments.id')
            .where('j.released_at', 'is', null),
        ),
      )
      .execute()
  }
}
