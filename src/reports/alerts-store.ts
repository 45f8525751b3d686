import type { Kysely, Selectable } from 'kysely'
import { updateWhere } from '../store/rows.js'
import type { AlertsTable, Database } from '../store/schema.js'

export type AlertRow = Selectable<AlertsTable>

export const listOpenAlerts = (db: Kysely<Database>) =>
  db.selectFrom('alerts').selectAll().where('closed_at', 'is', null).orderBy('opened_at').execute()

export const openAlert = (db: Kysely<Database>, row: AlertRow) =>
  db
    .insertInto('alerts')
    .values(row)
    .onConflict((oc) => oc.columns(['code', 'subject']).where('closed_at', 'is', null).doNothing())
    .execute()

export const refreshAlert = (
  db: Kysely<Database>,
  id: string,
  change: { message: string; value: string | null; threshold: string | null },
) => db.updateTable('alerts').set(change).where('id', '=', id).execute()

export const closeAlert = (db: Kysely<Database>, id: string, at: string) =>
  updateWhere(db, 'alerts', { closed_at: at }, { id, closed_at: null }).execute()

/** Today's payments of at least `minor` (in their own currency's minor units), newest first. */
export const largePayments = (
  db: Kysely<Database>,
  branchId: string,
  since: string,
  currency: string,
  minor: bigint,
) =>
  db
    .selectFrom('payments')
    .select(['id', 'amount_minor', 'currency', 'created_at'])
    .where('branch_id', '=', branchId)
    .where('created_at', '>=', since)
    .where('currency', '=', currency)
    .where('amount_minor', '>=', minor)
    .orderBy('created_at', 'desc')
    .limit(100)
    .execute()

/**
 * The branch's payments with a phone since a time, oldest first, in the order of the
 * (branch_id, created_at) index: no sort of the window in the store (bursts are found in code).
 */
export const phonePayments = (db: Kysely<Database>, branchId: string, since: string) =>
  db
    .selectFrom('payments')
    .select(['phone', 'created_at'])
    .where('branch_id', '=', branchId)
    .where('created_at', '>=', since)
    .where('phone', 'is not', null)
    .orderBy('created_at')
    .limit(50_000)
    .execute()

/** The currencies a branch was paid in since a time. */
export async function currenciesSince(db: Kysely<Database>, branchId: string, since: string) {
  const rows = await db
    .selectFrom('payments')
    .select('currency')
    .distinct()
    .where('branch_id', '=', branchId)
    .where('created_at', '>=', since)
    .execute()
  return rows.map((r) => r.currency)
}
