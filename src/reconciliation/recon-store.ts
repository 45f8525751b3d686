import type { Insertable, Kysely, Selectable } from 'kysely'
import { insertMany } from '../store/bulk.js'
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

/** Matches not undone (by a reject or an ignore). */
const live = (db: Kysely<Database>) =>
  db.selectFrom('recon_matches').selectAll().where('unmatched_at', 'is', null)

export const liveMatches = (db: Kysely<Database>, branchId: string) =>
  live(db).where('branch_id', '=', branchId).orderBy('created_at').orderBy('id').execute()

export const liveMatchesOfLine = (db: Kysely<Database>, lineId: string) =>
  live(db).where('statement_line_id', '=', lineId).execute()

export const liveMatchOfPayment = (db: Kysely<Database>, paymentId: string) =>
  live(db).where('payment_id', '=', paymentId).executeTakeFirst()

const MATCH_COLUMNS = [
  'id',
  'run_id',
  'branch_id',
  'statement_line_id',
  'payment_id',
  'batch_id',
  'pass',
  'rule',
  'created_at',
  'unmatched_at',
  'unmatched_reason',
] as const satisfies readonly (keyof ReconMatchesTable)[]

export const insertMatches = (db: Kysely<Database>, rows: Insertable<ReconMatchesTable>[]) =>
  insertMany(db, 'recon_matches', MATCH_COLUMNS, rows)

export const unmatch = (db: Kysely<Database>, id: string, at: string, reason: string) =>
  db
    .updateTable('recon_matches')
    .set({ unmatched_at: at, unmatched_reason: reason })
    .where('id', '=', id)
    .execute()

const DISCREPANCY_COLUMNS = [
  'id',
  'run_id',
  'category',
  'severity',
  'pass',
  'rule',
  'statement_line_id',
  'payment_id',
  'batch_id',
  'expected_minor',
  'actual_minor',
  'difference_minor',
  'currency',
  'suggestion',
] as const satisfies readonly (keyof ReconDiscrepanciesTable)[]

export const insertDiscrepancies = (
  db: Kysely<Database>,
  rows: Insertable<ReconDiscrepanciesTable>[],
) => insertMany(db, 'recon_discrepancies', DISCREPANCY_COLUMNS, rows)

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
