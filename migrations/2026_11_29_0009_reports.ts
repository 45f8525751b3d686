import { type Kysely, sql } from 'kysely'

// Frozen once shipped. Reports: exchange rates for converted totals, and the alerts `dsh health`
// and the daemon raise, each open until its condition is gone.
export async function up(db: Kysely<any>): Promise<void> {
  // An exact decimal rate as given (text, never a float): units of `to_currency` per unit of
  // `from_currency`, in force from `as_of` (a calendar day).
  await db.schema
    .createTable('fx_rates')
    .addColumn('from_currency', 'text', (c) => c.notNull())
    .addColumn('to_currency', 'text', (c) => c.notNull())
    .addColumn('as_of', 'text', (c) => c.notNull())
    .addColumn('rate', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('fx_rates_pk', ['from_currency', 'to_currency', 'as_of'])
    .execute()

  // One row per alert episode: opened when its condition appears, closed when it is gone.
  // `subject` tells alerts of one code apart (a branch, a gateway, a phone).
  await db.schema
    .createTable('alerts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('branch_id', 'text', (c) => c.references('branches.id'))
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('value', 'text')
    .addColumn('threshold', 'text')
    .addColumn('opened_at', 'text', (c) => c.notNull())
    .addColumn('closed_at', 'text')
    .execute()
  await db.schema
    .createIndex('alerts_open_uq')
    .on('alerts')
    .columns(['code', 'subject'])
    .unique()
    .where(sql.ref('closed_at'), 'is', null)
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('alerts').execute()
  await db.schema.dropTable('fx_rates').execute()
}
