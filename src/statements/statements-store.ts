import type { Insertable, Kysely, Selectable } from 'kysely'
import { rowsWhere } from '../store/rows.js'
import type { Database, StatementLinesTable, StatementsTable } from '../store/schema.js'

export type StatementRow = Selectable<StatementsTable>
export type StatementLineRow = Selectable<StatementLinesTable>

export const insertStatement = (db: Kysely<Database>, row: Insertable<StatementsTable>) =>
  db.insertInto('statements').values(row).execute()

export const updateStatement = (
  db: Kysely<Database>,
  id: string,
  changes: Partial<Insertable<StatementsTable>>,
) => db.updateTable('statements').set(changes).where('id', '=', id).execute()

export const deleteStatement = (db: Kysely<Database>, id: string) =>
  db.deleteFrom('statements').where('id', '=', id).execute()

export const findStatementBySha = (
  db: Kysely<Database>,
  branchId: string,
  kind: string,
  sha256: string,
  exceptId: string,
) =>
  rowsWhere(db, 'statements', { branch_id: branchId, kind, sha256 })
    .where('id', '!=', exceptId)
    .orderBy('created_at')
    .orderBy('id')
    .executeTakeFirst()

/** Inserts lines, skipping fingerprints already stored (the id is `sl_` + the fingerprint); returns how many were new. */
export async function insertLines(
  db: Kysely<Database>,
  rows: Insertable<StatementLinesTable>[],
): Promise<number> {
  if (rows.length === 0) return 0
  const r = await db
    .insertInto('statement_lines')
    .values(rows)
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst()
  return Number(r.numInsertedOrUpdatedRows ?? 0n)
}

export const listStatements = (db: Kysely<Database>, branchId: string, kind: string) =>
  rowsWhere(db, 'statements', { branch_id: branchId, kind })
    .orderBy('period_from')
    .orderBy('id')
    .execute()

/** Lines of a branch's statements of one kind booked in [from, to), with their file. */
export const listLines = (
  db: Kysely<Database>,
  branchId: string,
  kind: string,
  fromIso: string,
  toIso: string,
) =>
  db
    .selectFrom('statement_lines as l')
    .innerJoin('statements as s', 's.id', 'l.statement_id')
    .selectAll('l')
    .select('s.file')
    .where('l.branch_id', '=', branchId)
    .where('l.kind', '=', kind)
    .where('l.booked_at', '>=', fromIso)
    .where('l.booked_at', '<', toIso)
    .orderBy('l.booked_at')
    .orderBy('l.fingerprint')
    .execute()

export const findLine = (db: Kysely<Database>, id: string) =>
  db
    .selectFrom('statement_lines as l')
    .innerJoin('statements as s', 's.id', 'l.statement_id')
    .selectAll('l')
    .select('s.file')
    .where('l.id', '=', id)
    .executeTakeFirst()

export type LineWithFile = StatementLineRow & { file: string }
