import type { Insertable, Kysely, Selectable } from 'kysely'
import { rowsWhere } from '../store/rows.js'
import type {
  Database,
  ReconDecisionsTable,
  ReconDiscrepanciesTable,
  ReconMatchesTable,
  ReconRunsTable,
} from '../store/schema.js'

export type ReconRunRow = Selectable<ReconRunsTable>
export type ReconMatchRow = Selectable<ReconMatchesTable>
export type ReconDecisionRow = Selectable<ReconDecisionsTable>

export const insertRun = (db: Kysely<Database>, row: Insertable<ReconRunsTable>) =>
  db.insertInto('recon_runs').values(row).execute()

export const findRun = (db: Kysely<Database>, id: string) =>
  db.selectFrom('recon_runs').selectAll().where('id', '=', id).executeTakeFirst()

export const liveMatches = (db: Kysely<Database>, branchId: string) =>
  rowsWhere(db, 'recon_matches', { branch_id: branchId, unmatched_at: null })
    .orderBy('created_at')
    .orderBy('id')
    .execute()

export const liveMatchesOfLine = (db: Kysely<Database>, lineId: string) =>
  rowsWhere(db, 'recon_matches', { statement_line_id: lineId, unmatched_at: null }).execute()

export const liveMatchOfPayment = (db: Kysely<Database>, paymentId: string) =>
  rowsWhere(db, 'recon_matches', { payment_id: paymentId, unmatched_at: null }).executeTakeFirst()

export async function insertMatches(db: Kysely<Database>, rows: Insertable<ReconMatchesTable>[]) {
  for (let i = 0; i < rows.length; i += 500)
    await db
      .insertInto('recon_matches')
      .values(rows.slice(i, i + 500))
      .execute()
}

export const unmatch = (db: Kysely<Database>, id: string, at: string, reason: string) =>
  db
    .updateTable('recon_matches')
    .set({ unmatched_at: at, unmatched_reason: reason })
    .where('id', '=', id)
    .execute()

export async function insertDiscrepancies(
  db: Kysely<Database>,
  rows: Insertable<ReconDiscrepanciesTable>[],
) {
  for (let i = 0; i < rows.length; i += 500)
    await db
      .insertInto('recon_discrepancies')
      .values(rows.slice(i, i + 500))
      .execute()
}

/** The latest run's discrepancy about a line. */
export const latestDiscrepancyOfLine = (db: Kysely<Database>, lineId: string) =>
  db
    .selectFrom('recon_discrepancies as d')
    .innerJoin('recon_runs as r', 'r.id', 'd.run_id')
    .selectAll('d')
    .where('d.statement_line_id', '=', lineId)
    .orderBy('r.created_at', 'desc')
    .orderBy('r.id', 'desc')
    .executeTakeFirst()

export const listDecisions = (db: Kysely<Database>, branchId: string) =>
  rowsWhere(db, 'recon_decisions', { branch_id: branchId })
    .orderBy('created_at')
    .orderBy('id')
    .execute()

export const insertDecision = (db: Kysely<Database>, row: Insertable<ReconDecisionsTable>) =>
  db.insertInto('recon_decisions').values(row).execute()
