import type { Kysely, Selectable } from 'kysely'
import { rowsWhere } from '../store/rows.js'
import type { Database, FxRatesTable } from '../store/schema.js'

export type FxRateRow = Selectable<FxRatesTable>

/** Sets the rate of a pair for a day (a second `set` for the same day replaces it). */
export async function putFxRate(db: Kysely<Database>, row: FxRateRow): Promise<void> {
  await db
    .insertInto('fx_rates')
    .values(row)
    .onConflict((oc) =>
      oc.columns(['from_currency', 'to_currency', 'as_of']).doUpdateSet({
        rate: row.rate,
        created_at: row.created_at,
        created_by: row.created_by,
      }),
    )
    .execute()
}

export const listFxRates = (db: Kysely<Database>) =>
  db
    .selectFrom('fx_rates')
    .selectAll()
    .orderBy('from_currency')
    .orderBy('to_currency')
    .orderBy('as_of', 'desc')
    .execute()

/** The rate of a pair in force on `day`: the newest set on or before it. */
export const findFxRate = (db: Kysely<Database>, from: string, to: string, day: string) =>
  rowsWhere(db, 'fx_rates', { from_currency: from, to_currency: to })
    .where('as_of', '<=', day)
    .orderBy('as_of', 'desc')
    .limit(1)
    .executeTakeFirst()
