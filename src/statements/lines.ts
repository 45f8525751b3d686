import type { Kysely } from 'kysely'
import type { Database } from '../store/schema.js'
import {
  findLine,
  type LineWithFile,
  listCompletedLines,
  listStatements,
  type MatchLineRow,
  type StatementRow,
} from './statements-store.js'

export type { LineWithFile, StatementRow }

/** A statement line as reconciliation reads it, with its file name. */
export type ReconLine = MatchLineRow & { file: string }

/** A branch's imported statements of one kind (mpesa, bank), by period. */
export const statementsOf = (db: Kysely<Database>, branchId: string, kind: string) =>
  listStatements(db, branchId, kind)

/**
 * A branch's completed statement lines of one kind booked in [from, to), each with the name of
 * its file (from `statements`, the branch's statements of that kind).
 */
export async function completedLines(
  db: Kysely<Database>,
  branchId: string,
  kind: string,
  fromIso: string,
  toIso: string,
  statements: readonly StatementRow[],
): Promise<ReconLine[]> {
  const files = new Map(statements.map((s) => [s.id, s.file]))
  const rows = await listCompletedLines(db, branchId, kind, fromIso, toIso)
  for (const r of rows) (r as ReconLine).file = files.get(r.statement_id) ?? ''
  return rows as ReconLine[]
}

/** One statement line with its file name. */
export const statementLine = (
  db: Kysely<Database>,
  id: string,
): Promise<LineWithFile | undefined> => findLine(db, id)
