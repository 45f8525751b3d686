import type { Insertable, Kysely, Selectable, Updateable } from 'kysely'
import { dialectOf } from '../store/connect.js'
import type {
  Database,
  PaymentAttemptsTable,
  PaymentEventsTable,
  PaymentsTable,
} from '../store/schema.js'

export type PaymentRow = Selectable<PaymentsTable>
export type AttemptRow = Selectable<PaymentAttemptsTable>
export type PaymentEventRow = Selectable<PaymentEventsTable>

export const insertPayment = (db: Kysely<Database>, row: Insertable<PaymentsTable>) =>
  db.insertInto('payments').values(row).execute()

export const findPayment = (db: Kysely<Database>, id: string) =>
  db.selectFrom('payments').selectAll().where('id', '=', id).executeTakeFirst()

/** Reads a payment inside a write transaction, locking its row on PostgreSQL (SQLite's
 * BEGIN IMMEDIATE already serialises writers). */
export function findPaymentForUpdate(db: Kysely<Database>, id: string) {
  let q = db.selectFrom('payments').selectAll().where('id', '=', id)
  if (dialectOf(db) === 'postgres') q = q.forUpdate()
  return q.executeTakeFirst()
}

export const updatePayment = (
  db: Kysely<Database>,
  id: string,
  changes: Updateable<PaymentsTable>,
) => db.updateTable('payments').set(changes).where('id', '=', id).execute()

export const insertAttempt = (db: Kysely<Database>, row: Insertable<PaymentAttemptsTable>) =>
  db.insertInto('payment_attempts').values(row).execute()

export const updateAttempt = (
  db: Kysely<Database>,
  id: string,
  changes: Updateable<PaymentAttemptsTable>,
) => db.updateTable('payment_attempts').set(changes).where('id', '=', id).execute()

export const listAttempts = (db: Kysely<Database>, paymentId: string) =>
  db
    .selectFrom('payment_attempts')
    .selectAll()
    .where('payment_id', '=', paymentId)
    .orderBy('seq')
    .execute()

export const findAttemptByRef = (db: Kysely<Database>, gateway: string, gatewayRef: string) =>
  db
    .selectFrom('payment_attempts')
    .selectAll()
    .where('gateway', '=', gateway)
    .where('gateway_ref', '=', gatewayRef)
    .executeTakeFirst()

export const findAttempt = (db: Kysely<Database>, id: string) =>
  db.selectFrom('payment_attempts').selectAll().where('id', '=', id).executeTakeFirst()

export const insertPaymentEvent = (db: Kysely<Database>, row: Insertable<PaymentEventsTable>) =>
  db.insertInto('payment_events').values(row).execute()

export const listPaymentEvents = (db: Kysely<Database>, paymentId: string) =>
  db
    .selectFrom('payment_events')
    .selectAll()
    .where('payment_id', '=', paymentId)
    .orderBy('at')
    .orderBy('id')
    .execute()

export interface PaymentFilter {
  branchId?: string | undefined
  tenantId?: string | undefined
  status?: string | undefined
  gateway?: string | undefined
  since?: string | undefined
  /** Excluded. */
  until?: string | undefined
  limit?: number | undefined
  /** Keyset: only rows older than this one (newest first), for paging through every row. */
  before?: { createdAt: string; id: string } | undefined
}

export function listPayments(db: Kysely<Database>, f: PaymentFilter) {
  let q = db.selectFrom('payments').selectAll()
  if (f.branchId) q = q.where('branch_id', '=', f.branchId)
  if (f.tenantId) q = q.where('tenant_id', '=', f.tenantId)
  if (f.status) q = q.where('status', '=', f.status)
  if (f.gateway) q = q.where('gateway', '=', f.gateway)
  if (f.since) q = q.where('created_at', '>=', f.since)
  if (f.until) q = q.where('created_at', '<', f.until)
  const before = f.before
  // A row-value comparison, so the (created_at, id) indexes seek straight to the next page.
  if (before)
    q = q.where((eb) =>
      eb(eb.refTuple('created_at', 'id'), '<', eb.tuple(before.createdAt, before.id)),
    )
  q = q.orderBy('created_at', 'desc').orderBy('id', 'desc')
  if (f.limit) q = q.limit(f.limit)
  return q.execute()
}

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
  db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('key', '=', key)
    .executeTakeFirst()

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
  return db
    .selectFrom('payments')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('receipt_number', '=', receipt)
    .executeTakeFirst()
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

/** Payments by status × gateway, and the open ones (all and due for a check). */
export async function paymentGauges(db: Kysely<Database>, nowIso: string) {
  const byStatus = await db
    .selectFrom('payments')
    .select((eb) => ['status', 'gateway', eb.fn.countAll<number | string>().as('count')])
    .groupBy(['status', 'gateway'])
    .execute()
  const open = await db
    .selectFrom('payments')
    .select((eb) => [
      eb.fn.countAll<number | string>().as('all'),
      eb.fn.count<number | string>('id').filterWhere('next_check_at', '<=', nowIso).as('due'),
    ])
    .where('status', 'in', ['created', 'pending', 'unknown'])
    .executeTakeFirst()
  return { byStatus, open }
}
