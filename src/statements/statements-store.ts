import type { Insertable, Kysely, Selectable } from 'kysely'
import { existing, insertMany, selectArrays } from '../store/bulk.js'
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

const LINE_COLUMNS = [
  'id',
  'statement_id',
  'branch_id',
  'kind',
  'account',
  'fingerprint',
  'line_no',
  'occurrence',
  'booked_at',
  'value_date',
  'amount_minor',
  'currency',
  'transaction_id',
  'reference',
  'description',
  'counterparty',
  'balance_minor',
  'completed',
] as const satisfies readonly (keyof StatementLinesTable)[]

/**
 * Inserts lines, skipping fingerprints already stored (the id is `sl_` + the fingerprint).
 * With `probe`, the chunk's ids are looked up first and only the missing lines are offered (a
 * re-import then binds one value per line, not eighteen). Returns how many were new.
 */
export async function insertLines(
  db: Kysely<Database>,
  rows: Insertable<StatementLinesTable>[],
  probe = true,
): Promise<number> {
  if (rows.length === 0) return 0
  let fresh = rows
  if (probe) {
    const present = await existing(
      db,
      'statement_lines',
      'id',
      rows.map((r) => r.id),
    )
    if (present.size > 0) fresh = rows.filter((r) => !present.has(r.id))
  }
  return insertMany(db, 'statement_lines', LINE_COLUMNS, fresh, { ignoreConflictOn: 'id' })
}

export const listStatements = (db: Kysely<Database>, branchId: string, kind: string) =>
  rowsWhere(db, 'statements', { branch_id: branchId, kind })
    .orderBy('period_from')
    .orderBy('id')
    .execute()

const MATCH_LINE_COLUMNS = [
  'id',
  'booked_at',
  'amount_minor',
  'currency',
  'transaction_id',
  'reference',
  'counterparty',
] as const satisfies readonly (keyof StatementLinesTable)[]

/**
 * The completed lines of a branch's statements of one kind booked in [from, to): one indexed
 * range read (branch, kind, booked_at), only the columns matching needs (not where a line is:
 * linePlaces reads that for the few lines a report shows), in no particular order (the matcher
 * sorts).
 */
/** A line as matching reads it: the values of MATCH_LINE_COLUMNS, in that order. */
export type MatchLineValues = readonly [
  id: string,
  bookedAt: string,
  amountMinor: bigint | number | string,
  currency: string,
  transactionId: string | null,
  reference: string,
  counterparty: string,
  description?: string,
]

export const listCompletedLines = async (
  db: Kysely<Database>,
  branchId: string,
  kind: string,
  fromIso: string,
  toIso: string,
): Promise<MatchLineValues[]> =>
  (await selectArrays(
    db,
    db
      .selectFrom('statement_lines')
      // Bank lines also bring their description, where a deposit reference (CASH-…) may be.
      .select(kind === 'bank' ? [...MATCH_LINE_COLUMNS, 'description'] : MATCH_LINE_COLUMNS)
      .where('branch_id', '=', branchId)
      .where('kind', '=', kind)
      .where('booked_at', '>=', fromIso)
      .where('booked_at', '<', toIso)
      .where('completed', '=', 1),
  )) as unknown as MatchLineValues[]

/** Where lines are (their statement and line number), looked up by id in chunks. */
export async function linePlaces(
  db: Kysely<Database>,
  ids: readonly string[],
): Promise<Pick<StatementLineRow, 'id' | 'statement_id' | 'line_no'>[]> {
  const out: Pick<StatementLineRow, 'id' | 'statement_id' | 'line_no'>[] = []
  for (let i = 0; i < ids.length; i += 500)
    out.push(
      ...(await db
        .selectFrom('statement_lines')
        .select(['id', 'statement_id', 'line_no'])
        .where('id', 'in', ids.slice(i, i + 500))
        .execute()),
    )
  return out
}

export const findLine = (db: Kysely<Database>, id: string) =>
  db
    .selectFrom('statement_lines as l')
    .innerJoin('statements as s', 's.id', 'l.statement_id')
    .selectAll('l')
    .select('s.file')
    .where('l.id', '=', id)
    .executeTakeFirst()

export type LineWithFile = StatementLineRow & { file: string }
