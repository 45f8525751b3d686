import type { Kysely } from 'kysely'
import type { Database } from '../store/schema.js'
import {
  findLine,
  type LineWithFile,
  linePlaces,
  listCompletedLines,
  listStatements,
  type MatchLineRow,
  type StatementRow,
} from './statements-store.js'

export type { LineWithFile, StatementRow }

/** A statement line as reconciliation reads it to match. */
export type ReconLine = MatchLineRow

/** A line with where it is: its statement, file name and line number (what a report shows). */
export type PlacedLine = MatchLineRow & { statement_id: string; line_no: number; file: string }

/** A branch's imported statements of one kind (mpesa, bank), by period. */
export const statementsOf = (db: Kysely<Database>, branchId: string, kind: string) =>
  listStatements(db, branchId, kind)

/** A branch's completed statement lines of one kind booked in [from, to). */
export const completedLines = (
  db: Kysely<Database>,
  branchId: string,
  kind: string,
  fromIso: string,
  toIso: string,
): Promise<ReconLine[]> => listCompletedLines(db, branchId, kind, fromIso, toIso)

/**
 * The lines with where they are, by id: their statement, line number and the file name (from
 * `statements`, the statements they belong to). Read for the few lines a report shows.
 */
export async function placeLines(
  db: Kysely<Database>,
  lines: readonly ReconLine[],
  statements: readonly StatementRow[],
): Promise<Map<string, PlacedLine>> {
  const files = new Map(statements.map((s) => [s.id, s.file]))
  const byId = new Map(lines.map((l) => [l.id, l]))
  const out = new Map<string, PlacedLine>()
  for (const p of await linePlaces(db, [...byId.keys()])) {
    const l = byId.get(p.id)
    if (l)
      out.set(p.id, {
        ...l,
        statement_id: p.statement_id,
        line_no: p.line_no,
        file: files.get(p.statement_id) ?? '',
      })
  }
  return out
}

/** One statement line with its file name. */
export const statementLine = (
  db: Kysely<Database>,
  id: string,
): Promise<LineWithFile | undefined> => findLine(db, id)
