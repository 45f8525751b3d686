import type { Kysely, Selectable } from 'kysely'
import { reusable, selectArrays } from '../store/bulk.js'
import { dialectOf } from '../store/connect.js'
import {
  finderById,
  inserter,
  listNewestFirst,
  type NewestPage,
  type Row,
  rowsWhere,
  updateById,
} from '../store/rows.js'
import type { Database } from '../store/schema.js'

export type PaymentRow = Row<'payments'>
export type AttemptRow = Row<'payment_attempts'>
export type PaymentEventRow = Row<'payment_events'>

export const insertPayment = inserter('payments')

export const findPayment = finderById('payments')

/** Reads a payment inside a write transaction, locking its row on PostgreSQL (SQLite's
 * BEGIN IMMEDIATE already serialises writers). */
export function findPaymentForUpdate(db: Kysely<Database>, id: string) {
  let q = rowsWhere(db, 'payments', { id })
  if (dialectOf(db) === 'postgres') q = q.forUpdate()
  return q.executeTakeFirst()
}

export const updatePayment = updateById('payments')

export const insertAttempt = inserter('payment_attempts')

export const updateAttempt = updateById('payment_attempts')

export const listAttempts = (db: Kysely<Database>, paymentId: string) =>
  rowsWhere(db, 'payment_attempts', { payment_id: paymentId }).orderBy('seq').execute()

export const findAttemptByRef = (db: Kysely<Database>, gateway: string, gatewayRef: string) =>
  rowsWhere(db, 'payment_attempts', { gateway, gateway_ref: gatewayRef }).executeTakeFirst()

export const findAttempt = finderById('payment_attempts')

export const insertPaymentEvent = inserter('payment_events')

export const listPaymentEvents = (db: Kysely<Database>, paymentId: string) =>
  rowsWhere(db, 'payment_events', { payment_id: paymentId }).orderBy('at').orderBy('id').execute()

/** Newest first by `created_at` (then id). */
export interface PaymentFilter extends NewestPage<PaymentRow> {
  branchId?: string | undefined
  tenantId?: string | undefined
  status?: string | undefined
  gateway?: string | undefined
}

export const listPayments = (db: Kysely<Database>, f: PaymentFilter) =>
  listNewestFirst(
    db,
    'payments',
    'created_at',
    { branch_id: f.branchId, tenant_id: f.tenantId, status: f.status, gateway: f.gateway },
    f,
  )

/** Open payments due for a gateway query (recovery), oldest first. */
export const duePayments = (db: Kysely<Database>, nowIso: string, limit: number) =>
  listDueForRecovery(db, ['pending', 'unknown', 'created'], nowIso, limit)

/** An M-Pesa payment to the same phone and amount whose outcome is still unknown. */
export const findUnknownTwin = (
  db: Kysely<Database>,
  branchId: string,
  phone: string,
  amountMinor: bigint,
) =>
  db
    .selectFrom('payments')
    .select(['id', 'status', 'created_at'])
    .where('branch_id', '=', branchId)
    .where('phone', '=', phone)
    .where('amount_minor', '=', amountMinor)
    .where('status', '=', 'unknown')
    .executeTakeFirst()

export type IdempotencyRow = Selectable<Database['idempotency_keys']>

export const findIdempotencyKey = (db: Kysely<Database>, tenantId: string, key: string) =>
  rowsWhere(db, 'idempotency_keys', { tenant_id: tenantId, key }).executeTakeFirst()

export const insertIdempotencyKey = (
  db: Kysely<Database>,
  row: Selectable<Database['idempotency_keys']>,
) => db.insertInto('idempotency_keys').values(row).execute()

/**
 * M-Pesa attempts of a branch still waiting without a CheckoutRequestID (the push's answer never
 * came), for this amount, newest first, with the payment's phone.
 */
export const findUnreferencedMpesaAttempts = (
  db: Kysely<Database>,
  branchId: string,
  amountMinor: bigint,
  sinceIso: string,
) =>
  db
    .selectFrom('payment_attempts')
    .innerJoin('payments', 'payments.id', 'payment_attempts.payment_id')
    .selectAll('payment_attempts')
    .select('payments.phone as payment_phone')
    .where('payments.branch_id', '=', branchId)
    .where('payments.amount_minor', '=', amountMinor)
    .where('payments.status', 'in', ['created', 'unknown'])
    .where('payments.created_at', '>=', sinceIso)
    .where('payment_attempts.gateway', '=', 'mpesa')
    .where('payment_attempts.gateway_ref', 'is', null)
    .where('payment_attempts.status', 'in', ['sending', 'unknown'])
    .orderBy('payment_attempts.created_at', 'desc')
    .execute()

/** The tenant's payment carrying a gateway receipt (receipts are unique per gateway account). */
export function findPaymentByReceipt(
  db: Kysely<Database>,
  tenantId: string,
  receipt: string,
): Promise<PaymentRow | undefined> {
  return rowsWhere(db, 'payments', {
    tenant_id: tenantId,
    receipt_number: receipt,
  }).executeTakeFirst()
}

/** Whether an attempt of the payment may have reached a gateway (sending, pending or unknown). */
export async function hasAttemptInFlight(
  db: Kysely<Database>,
  paymentId: string,
): Promise<boolean> {
  const row = await db
    .selectFrom('payment_attempts')
    .select('id')
    .where('payment_id', '=', paymentId)
    .where('status', 'in', ['sending', 'pending', 'unknown'])
    .executeTakeFirst()
  return row !== undefined
}

/** A branch's payments through one gateway created in [from, to), for reconciliation. */
export const listPaymentsCreatedBetween = (
  db: Kysely<Database>,
  branchId: string,
  gateway: string,
  fromIso: string,
  toIso: string,
) =>
  db
    .selectFrom('payments')
    .select([
      'id',
      'status',
      'receipt_number',
      'order_id',
      'amount_minor',
      'currency',
      'phone',
      'created_at',
      'completed_at',
    ])
    .where('branch_id', '=', branchId)
    .where('gateway', '=', gateway)
    .where('created_at', '>=', fromIso)
    .where('created_at', '<', toIso)
    .orderBy('created_at')
    .orderBy('id')
    .execute()

/**
 * What matching reads of a branch's payments through one gateway created in [from, to): no
 * order id or completion time (paymentDetails reads those for the few a report shows), in no
 * particular order (the matcher sorts).
 */
/** A payment as matching reads it: these values, in this order. */
export type MatchPaymentValues = readonly [
  id: string,
  status: string,
  receiptNumber: string | null,
  amountMinor: bigint | number | string,
  currency: string,
  phone: string | null,
  createdAt: string,
]

export const listPaymentsToMatch = async (
  db: Kysely<Database>,
  branchId: string,
  gateway: string,
  fromIso: string,
  toIso: string,
): Promise<MatchPaymentValues[]> =>
  (await selectArrays(
    db,
    db
      .selectFrom('payments')
      .select(['id', 'status', 'receipt_number', 'amount_minor', 'currency', 'phone', 'created_at'])
      .where('branch_id', '=', branchId)
      .where('gateway', '=', gateway)
      .where('created_at', '>=', fromIso)
      .where('created_at', '<', toIso),
  )) as unknown as MatchPaymentValues[]

/** Payments' order id and completion time, by id (in chunks). */
export async function paymentDetails(
  db: Kysely<Database>,
  ids: readonly string[],
): Promise<Pick<PaymentRow, 'id' | 'order_id' | 'completed_at'>[]> {
  const out: Pick<PaymentRow, 'id' | 'order_id' | 'completed_at'>[] = []
  for (let i = 0; i < ids.length; i += 500)
    out.push(
      ...(await db
        .selectFrom('payments')
        .select(['id', 'order_id', 'completed_at'])
        .where('id', 'in', ids.slice(i, i + 500))
        .execute()),
    )
  return out
}

/** M-Pesa attempts of these branches since a time whose payment has no receipt yet. */
export const listUnreceiptedMpesaAttempts = (
  db: Kysely<Database>,
  branchIds: readonly string[],
  sinceIso: string,
) =>
  db
    .selectFrom('payment_attempts')
    .innerJoin('payments', 'payments.id', 'payment_attempts.payment_id')
    .selectAll('payment_attempts')
    .where('payment_attempts.gateway', '=', 'mpesa')
    .where('payments.branch_id', 'in', [...branchIds])
    .where('payments.receipt_number', 'is', null)
    .where('payment_attempts.created_at', '>=', sinceIso)
    .execute()

/** The gateway references of these payments' attempts (to wake callbacks waiting for them). */
export const listAttemptRefs = async (db: Kysely<Database>, paymentIds: readonly string[]) =>
  paymentIds.length === 0
    ? []
    : (
        await db
          .selectFrom('payment_attempts')
          .select(['gateway', 'gateway_ref'])
          .where('payment_id', 'in', [...paymentIds])
          .where('gateway_ref', 'is not', null)
          .execute()
      ).map((r) => ({ gateway: r.gateway, gateway_ref: r.gateway_ref! }))

/** Open payments whose next recovery check is due by `horizon`, oldest first. */
export async function listDueForRecovery(
  db: Kysely<Database>,
  statuses: readonly string[],
  horizon: string,
  limit: number,
): Promise<PaymentRow[]> {
  // One ordered range of the (status, next_check_at) index per status, each bounded by the
  // limit, merged here: no sort of every due payment in the store.
  const out: PaymentRow[] = []
  for (const status of statuses)
    out.push(
      ...(await db
        .selectFrom('payments')
        .selectAll()
        .where('status', '=', status)
        .where('next_check_at', '<=', horizon)
        .orderBy('next_check_at')
        .limit(limit)
        .execute()),
    )
  const at = (p: PaymentRow) => p.next_check_at ?? ''
  return out.sort((a, b) => (at(a) < at(b) ? -1 : at(a) > at(b) ? 1 : 0)).slice(0, limit)
}

/**
 * Claims a payment's recovery check by moving it to its next check, only if nobody moved it
 * since it was read (same status, next check and count). True when this caller won.
 */
export async function claimRecoveryCheck(
  db: Kysely<Database>,
  p: PaymentRow,
  nextCheckAt: string,
): Promise<boolean> {
  const r = await db
    .updateTable('payments')
    .set({ next_check_at: nextCheckAt, check_count: p.check_count + 1 })
    .where('id', '=', p.id)
    .where('status', '=', p.status)
    .where('next_check_at', '=', p.next_check_at)
    .where('check_count', '=', p.check_count)
    .executeTakeFirst()
  return Number(r.numUpdatedRows) === 1
}

/**
 * Payments by status × gateway (from the counters the store's triggers keep, not a count of the
 * table), and the open ones: all (counters) and due for a check (through payments_status_idx).
 */
export async function paymentGauges(db: Kysely<Database>, nowIso: string) {
  const rows = await db
    .selectFrom('payment_counts')
    .select((eb) => ['status', 'gateway', eb.fn.sum<number | string | bigint>('count').as('count')])
    .groupBy(['status', 'gateway'])
    .orderBy('status')
    .orderBy('gateway')
    .execute()
  const byStatus = rows
    .filter((r) => BigInt(r.count) !== 0n)
    .map((r) => ({
      status: r.status,
      gateway: r.gateway === '' ? null : r.gateway,
      count: r.count,
    }))
  const open = ['created', 'pending', 'unknown']
  const all = rows.filter((r) => open.includes(r.status)).reduce((n, r) => n + BigInt(r.count), 0n)
  const due = await db
    .selectFrom('payments')
    .select((eb) => eb.fn.countAll<number | string>().as('due'))
    .where('status', 'in', open)
    .where('next_check_at', '<=', nowIso)
    .executeTakeFirst()
  return { byStatus, open: { all: Number(all), due: Number(due?.due ?? 0) } }
}

/**
 * Records receipts on payments that have none (one compiled statement, run per payment, in the
 * caller's transaction); a payment that has one meanwhile keeps it. Returns how many were set.
 */
export async function setMissingReceipts(
  db: Kysely<Database>,
  items: readonly { id: string; receipt: string }[],
  at: string,
): Promise<number> {
  const run = reusable(db, 'payments.setMissingReceipt', ['receipt', 'at', 'id'], (slot) =>
    db
      .updateTable('payments')
      .set({ receipt_number: slot('receipt'), updated_at: slot('at') })
      .where('id', '=', slot('id'))
      .where('receipt_number', 'is', null),
  )
  let n = 0
  for (const i of items)
    n += Number((await run({ receipt: i.receipt, at, id: i.id })).numAffectedRows ?? 0n)
  return n
}
