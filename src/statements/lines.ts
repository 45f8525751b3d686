import type { Kysely } from 'kysely'
import type { Database } from '../store/schema.js'
import {
  findLine,
  type LineWithFile,
  listLines,
  listStatements,
  type StatementRow,
} from './statements-store.js'

export type { LineWithFile, StatementRow }

/** A branch's imported statements of one kind (mpesa, bank), by period. */
export const statementsOf = (db: Kysely<Database>, branchId: string, kind: string) =>
  listStatements(db, branchId, kind)

/** A branch's statement lines of one kind booked in [from, to), each with its file name. */
export const statementLines = (
  db: Kysely<Database>,
  branchId: string,
  kind: string,
  fromIso: string,
  toIso: string,
): Promise<LineWithFile[]> => listLines(db, branchId, kind, fromIso, toIso)

/** One statement line with its file name. */
export const statementLine = (
  db: Kysely<Database>,
  id: string,
): Promise<LineWithFile | undefined> => findLine(db, id)
