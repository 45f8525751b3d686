import type { Kysely } from 'kysely'

// Frozen once shipped. Gateway configurations, settlement accounts and the audit log.
export async function up(db: Kysely<any>): Promise<void> {
  // scope is 'tenant:<id>' or 'branch:<id>', so one (scope, type) is unique on both dialects
  // (a NULL branch id would escape a UNIQUE constraint).
  await db.schema
    .createTable('gateway_configs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('branch_id', 'text', (c) => c.references('branches.id'))
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('settings', 'text', (c) => c.notNull())
    .addColumn('secrets', 'text', (c) => c.notNull())
    .addColumn('fee_currency', 'text', (c) => c.notNull())
    .addColumn('transaction_fee_bp', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('transaction_fee_flat_minor', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('conversion_fee_bp', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('settlement_fee_minor', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('gateway_configs_scope_type_uq', ['scope', 'type'])
    .execute()
  await db.schema
    .createIndex('gateway_configs_tenant_idx')
    .on('gateway_configs')
    .column('tenant_id')
    .execute()

  await db.schema
    .createTable('settlement_accounts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('branch_id', 'text', (c) => c.notNull().references('branches.id'))
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('account_name', 'text', (c) => c.notNull())
    .addColumn('account_number', 'text', (c) => c.notNull())
    .addColumn('bank_name', 'text', (c) => c.notNull())
    .addColumn('bank_code', 'text')
    .addColumn('swift', 'text')
    .addColumn('schedule', 'text', (c) => c.notNull())
    .addColumn('at_time', 'text', (c) => c.notNull())
    .addColumn('weekday', 'text')
    .addColumn('month_day', 'text')
    .addColumn('min_amount_minor', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('holding_hours', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('auto', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('settlement_accounts_branch_currency_uq', ['branch_id', 'currency'])
    .execute()

  // Append-only and hash-chained: seq is gapless, hash = HMAC(audit key, seq, prev_hash, content).
  await db.schema
    .createTable('audit_log')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('tenant', 'text')
    .addColumn('branch', 'text')
    .addColumn('target', 'text')
    .addColumn('request', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('audit_log_branch_idx')
    .on('audit_log')
    .columns(['branch', 'seq'])
    .execute()
  await db.schema
    .createIndex('audit_log_action_idx')
    .on('audit_log')
    .columns(['action', 'seq'])
    .execute()

  // The newest row's seq and hash, so deleting the newest rows is detected too.
  await db.schema
    .createTable('audit_head')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute()
  // One row, always present, so writers can lock it (SELECT … FOR UPDATE on PostgreSQL).
  await db
    .insertInto('audit_head')
    .values({
      id: 1,
      seq: 0,
      hash: '0000000000000000000000000000000000000000000000000000000000000000',
    })
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_head').execute()
  await db.schema.dropTable('audit_log').execute()
  await db.schema.dropTable('settlement_accounts').execute()
  await db.schema.dropTable('gateway_configs').execute()
}
