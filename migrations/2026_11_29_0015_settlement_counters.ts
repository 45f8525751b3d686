import { type Kysely, PostgresAdapter, sql } from 'kysely'

// Frozen once shipped. A settlement run's bulk move (unsettled → batched for every payment of the
// run, one UPDATE on SQLite) keeps payment_counts itself, with one grouped upsert, instead of the
// row trigger of migration 0012 doing two upserts per payment (~20 % of a 100,000-payment run).
//
// SQLite: `payment_counts_bulk` holds a row only inside the run's own write transaction, around
// that one UPDATE (inserted just before it, deleted just after, both in the transaction, so a
// rollback takes it away too). While it holds one, the row trigger `payments_counters_update`
// stands aside for exactly that move (settlement_status 'unsettled' → 'batched'); every other
// update still counts row by row. (A trigger of the main schema cannot read a temporary table,
// hence a real one.) The trigger is otherwise the one of 0012.
// PostgreSQL: the table exists (the same schema on both), unused: its counters' triggers are
// statement triggers over transition tables, already one grouped insert per statement.

const TOTALS_COLS = [
  'tenant_id',
  'branch_id',
  'gateway',
  'status',
  'settlement_status',
  'currency',
  'amount_minor',
]

const isPg = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter

/** The body of 0012's trigger: −OLD and +NEW in payment_counts. */
const totals = (r: 'NEW' | 'OLD', sign: '' | '-') => `
    insert into payment_counts
      (tenant_id, branch_id, gateway, status, settlement_status, currency, count, amount_minor)
    values (${r}.tenant_id, ${r}.branch_id, coalesce(${r}.gateway, ''), ${r}.status,
      ${r}.settlement_status, ${r}.currency, ${sign}1, ${sign}${r}.amount_minor)
    on conflict (tenant_id, branch_id, gateway, status, settlement_status, currency) do update set
      count = count + excluded.count, amount_minor = amount_minor + excluded.amount_minor;`

const changed = TOTALS_COLS.map((c) => `OLD.${c} is not NEW.${c}`).join(' or ')

const trigger = (when: string) => `create trigger payments_counters_update
    after update of ${TOTALS_COLS.join(', ')} on payments
    when ${when} begin
    ${totals('OLD', '-')} ${totals('NEW', '')} end`

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('payment_counts_bulk')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .execute()
  if (isPg(db)) return
  await sql.raw('drop trigger payments_counters_update').execute(db)
  await sql
    .raw(
      trigger(`(${changed}) and not (OLD.settlement_status = 'unsettled'
      and NEW.settlement_status = 'batched' and exists (select 1 from payment_counts_bulk))`),
    )
    .execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  if (!isPg(db)) {
    await sql.raw('drop trigger payments_counters_update').execute(db)
    await sql.raw(trigger(changed)).execute(db)
  }
  await db.schema.dropTable('payment_counts_bulk').execute()
}
