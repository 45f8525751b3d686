import type { Insertable, Kysely, Selectable, SelectQueryBuilder, Updateable } from 'kysely'
import type { Database } from './schema.js'

/**
 * The few query shapes every capability's store repeats (rows of a table matching some columns;
 * changing them; a newest-first page), written once. Each function is typed by the table it is
 * given. Inside, kysely cannot check a filter object against a table named by a type parameter,
 * so the query is built on a looser view of the database; `RowMatch<T>` and the declared return
 * types carry the table's own types to the callers.
 */

type Table = keyof Database & string
type Loose = Kysely<Record<string, Record<string, unknown>>>
const loose = (db: Kysely<Database>) => db as unknown as Loose

/** A row of `table` as read. */
export type Row<T extends Table> = Selectable<Database[T]>

/** Column values a row must have (a null matches `is null`). */
export type RowMatch<T extends Table> = {
  [C in keyof Selectable<Database[T]>]?: Selectable<Database[T]>[C] | undefined
}

/**
 * `match` as kysely's filter object. kysely drops undefined values, which would widen a look-up
 * (or an update) to every row: an undefined value here is a bug, refused before any SQL runs.
 */
function exactly(match: Record<string, unknown>): Record<string, unknown> {
  for (const [column, value] of Object.entries(match))
    if (value === undefined) throw new Error(`no value for the column ${column}`)
  return match
}

type AllOf<T extends Table> = SelectQueryBuilder<Database, T, Selectable<Database[T]>>

/**
 * The rows of `table` whose columns equal every value of `match`, all columns selected: a query
 * still open for `orderBy`, `limit`, `forUpdate` and `execute`/`executeTakeFirst`.
 */
export function rowsWhere<T extends Table>(
  db: Kysely<Database>,
  table: T,
  match: RowMatch<T>,
): AllOf<T> {
  return loose(db)
    .selectFrom(table as string)
    .selectAll()
    .where((eb) => eb.and(exactly(match))) as unknown as AllOf<T>
}

/** One column of the first row matching `match`, or undefined when there is none. */
export async function valueWhere<T extends Table, C extends keyof Selectable<Database[T]> & string>(
  db: Kysely<Database>,
  table: T,
  column: C,
  match: RowMatch<T>,
): Promise<Selectable<Database[T]>[C] | undefined> {
  const row: Record<string, unknown> | undefined = await loose(db)
    .selectFrom(table as string)
    .select(column as string)
    .where((eb) => eb.and(exactly(match)))
    .executeTakeFirst()
  return row?.[column] as Selectable<Database[T]>[C] | undefined
}

/** Sets `changes` on the rows matching `match`: a query to `execute`/`executeTakeFirst`. */
export function updateWhere<T extends Table>(
  db: Kysely<Database>,
  table: T,
  changes: Updateable<Database[T]>,
  match: RowMatch<T>,
) {
  return loose(db)
    .updateTable(table as string)
    .set(changes as Record<string, unknown>)
    .where((eb) => eb.and(exactly(match)))
}

/** The insert of one row into `table`, as a store function: `(db, row)`. */
export const inserter =
  <T extends Table>(table: T) =>
  (db: Kysely<Database>, row: Insertable<Database[T]>) =>
    loose(db)
      .insertInto(table as string)
      .values(row as Record<string, unknown>)
      .execute()

/** The row of `table` with this id (undefined when there is none), as a store function. */
export const finderById =
  <T extends Table>(table: T) =>
  (db: Kysely<Database>, id: string) =>
    rowsWhere(db, table, { id } as RowMatch<T>).executeTakeFirst()

/** The update of one row by its id, as a store function: `(db, id, changes)`. */
export const updateById =
  <T extends Table>(table: T) =>
  (db: Kysely<Database>, id: string, changes: Updateable<Database[T]>) =>
    updateWhere(db, table, changes, { id } as RowMatch<T>).execute()

/** A page of a listing, newest first, over a table's time column and its id. */
export interface NewestPage<Row> {
  /** Included. */
  since?: string | undefined
  /** Excluded. */
  until?: string | undefined
  limit?: number | undefined
  /** Keyset: only rows older than this one (the previous page's last), to page through all. */
  last?: Row | undefined
}

/**
 * Rows of `table` newest first by `atColumn` (then id): those equal to every present value of
 * `filter` (an absent or empty value does not filter), within `page`.
 */
export function listNewestFirst<T extends Table>(
  db: Kysely<Database>,
  table: T,
  atColumn: keyof Selectable<Database[T]> & string,
  filter: RowMatch<T>,
  page: NewestPage<Selectable<Database[T]>>,
): Promise<Selectable<Database[T]>[]> {
  const present = Object.fromEntries(
    Object.entries(filter).filter(([, v]) => v !== undefined && v !== ''),
  )
  const at: string = atColumn
  let q = loose(db)
    .selectFrom(table as string)
    .selectAll()
    .where((eb) => eb.and(present))
  if (page.since) q = q.where(at, '>=', page.since)
  if (page.until) q = q.where(at, '<', page.until)
  const last: Record<string, unknown> | undefined = page.last
  // A row-value comparison, so an (at, id) index seeks straight to the next page.
  if (last) q = q.where((eb) => eb(eb.refTuple(at, 'id'), '<', eb.tuple(last[at], last['id'])))
  q = q.orderBy(at, 'desc').orderBy('id', 'desc')
  if (page.limit) q = q.limit(page.limit)
  return q.execute() as Promise<Selectable<Database[T]>[]>
}
