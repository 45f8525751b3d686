import { type Kysely, sql } from 'kysely'

// Frozen once shipped. Statements (imported bank and M-Pesa lines) and reconciliation: runs,
// the matches they made (each statement line, payment and batch member used at most once
// among live matches), the discrepancies they found, and the decisions people took.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('statements')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('branch_id', 'text', (c) => c.notNull().references('branches.id'))
    .addColumn('profile', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('account', 'text', (c) => c.notNull())
    .addColumn('file', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('period_from', 'text', (c) => c.notNull())
    .addColumn('period_to', 'text', (c) => c.notNull())
    .addColumn('lines', 'integer', (c) => c.notNull())
    .addColumn('imported', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('statements_branch_idx')
    .on('statements')
    .columns(['branch_id', 'kind', 'sha256'])
    .execute()

  // One row per transaction: the fingerprint is (branch, account, transaction id or time +
  // amount + reference + counterparty) and the occurrence index within its file, so identical
  // rows stay distinct and overlapping statements merge to their union. The id is `sl_` + the
  // fingerprint, so the primary key is the fingerprint's unique index (one index, not two).
  await db.schema
    .createTable('statement_lines')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('statement_id', 'text', (c) => c.notNull().references('statements.id'))
    .addColumn('branch_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('account', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('line_no', 'integer', (c) => c.notNull())
    .addColumn('occurrence', 'integer', (c) => c.notNull())
    .addColumn('booked_at', 'text', (c) => c.notNull())
    .addColumn('value_date', 'text')
    .addColumn('amount_minor', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('transaction_id', 'text')
    .addColumn('reference', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('counterparty', 'text', (c) => c.notNull())
    .addColumn('balance_minor', 'bigint')
    .addColumn('completed', 'integer', (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('statement_lines_branch_idx')
    .on('statement_lines')
    .columns(['branch_id', 'kind', 'booked_at'])
    .execute()

  await db.schema
    .createTable('recon_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('branch_id', 'text', (c) => c.notNull().references('branches.id'))
    .addColumn('period_from', 'text', (c) => c.notNull())
    .addColumn('period_to', 'text', (c) => c.notNull())
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('report', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .execute()

  // A live match has no unmatched_at. Among live matches a statement line pairs with at most one
  // payment, a payment with at most one line, and a (batch, line) pair exists once.
  await db.schema
    .createTable('recon_matches')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('run_id', 'text')
    .addColumn('branch_id', 'text', (c) => c.notNull())
    .addColumn('statement_line_id', 'text', (c) => c.notNull().references('statement_lines.id'))
    .addColumn('payment_id', 'text')
    .addColumn('batch_id', 'text')
    .addColumn('pass', 'text', (c) => c.notNull())
    .addColumn('rule', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('unmatched_at', 'text')
    .addColumn('unmatched_reason', 'text')
    .execute()
  await db.schema
    .createIndex('recon_matches_line_live_uq')
    .on('recon_matches')
    .column('statement_line_id')
    .unique()
    .where(sql.ref('unmatched_at'), 'is', null)
    .where(sql.ref('payment_id'), 'is not', null)
    .execute()
  await db.schema
    .createIndex('recon_matches_payment_live_uq')
    .on('recon_matches')
    .column('payment_id')
    .unique()
    .where(sql.ref('unmatched_at'), 'is', null)
    .where(sql.ref('payment_id'), 'is not', null)
    .execute()
  await db.schema
    .createIndex('recon_matches_batch_live_uq')
    .on('recon_matches')
    .columns(['batch_id', 'statement_line_id'])
    .unique()
    .where(sql.ref('unmatched_at'), 'is', null)
    .where(sql.ref('batch_id'), 'is not', null)
    .execute()
  await db.schema
    .createIndex('recon_matches_branch_idx')
    .on('recon_matches')
    .columns(['branch_id', 'unmatched_at'])
    .execute()

  await db.schema
    .createTable('recon_discrepancies')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('run_id', 'text', (c) => c.notNull().references('recon_runs.id'))
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('pass', 'text', (c) => c.notNull())
    .addColumn('rule', 'text', (c) => c.notNull())
    .addColumn('statement_line_id', 'text')
    .addColumn('payment_id', 'text')
    .addColumn('batch_id', 'text')
    .addColumn('expected_minor', 'bigint', (c) => c.notNull())
    .addColumn('actual_minor', 'bigint', (c) => c.notNull())
    .addColumn('difference_minor', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('suggestion', 'text')
    .execute()
  await db.schema
    .createIndex('recon_discrepancies_run_idx')
    .on('recon_discrepancies')
    .column('run_id')
    .execute()

  // confirm / reject / ignore, by a person, with a reason; revoked_at when superseded.
  await db.schema
    .createTable('recon_decisions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('branch_id', 'text', (c) => c.notNull())
    .addColumn('statement_line_id', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text')
    .addColumn('decision', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('recon_decisions_branch_idx')
    .on('recon_decisions')
    .columns(['branch_id', 'statement_line_id'])
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    'recon_decisions',
    'recon_discrepancies',
    'recon_matches',
    'recon_runs',
    'statement_lines',
    'statements',
  ]) {
    await db.schema.dropTable(t).execute()
  }
}
