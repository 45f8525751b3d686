import type { Kysely } from 'kysely'

// Frozen once shipped. Payments, their attempts and timeline, idempotency keys, breakers.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('payments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('branch_id', 'text', (c) => c.notNull().references('branches.id'))
    .addColumn('order_id', 'text')
    .addColumn('amount_minor', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('refunded_minor', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('customer_type', 'text', (c) => c.notNull())
    .addColumn('phone', 'text')
    .addColumn('gateway', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('failure_code', 'text')
    .addColumn('failure_message', 'text')
    .addColumn('routing', 'text', (c) => c.notNull())
    .addColumn('idempotency_key', 'text')
    .addColumn('receipt_number', 'text')
    .addColumn('gateway_ref', 'text')
    .addColumn('fee_minor', 'bigint')
    .addColumn('fee_rate_bp', 'integer')
    .addColumn('fee_flat_minor', 'bigint')
    .addColumn('fee_currency', 'text')
    .addColumn('settlement_status', 'text', (c) => c.notNull().defaultTo('unsettled'))
    .addColumn('settlement_batch_id', 'text')
    .addColumn('next_check_at', 'text')
    .addColumn('check_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('completed_at', 'text')
    .execute()
  await db.schema
    .createIndex('payments_branch_created_idx')
    .on('payments')
    .columns(['branch_id', 'created_at'])
    .execute()
  await db.schema
    .createIndex('payments_status_idx')
    .on('payments')
    .columns(['status', 'next_check_at'])
    .execute()
  await db.schema
    .createIndex('payments_gateway_ref_idx')
    .on('payments')
    .column('gateway_ref')
    .execute()
  await db.schema
    .createIndex('payments_phone_idx')
    .on('payments')
    .columns(['phone', 'amount_minor', 'status'])
    .execute()

  // The attempt row is committed with its reference BEFORE the gateway is called, so a crash
  // never leads to a second charge: a `sending` attempt is looked up, never re-sent.
  await db.schema
    .createTable('payment_attempts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('payment_id', 'text', (c) => c.notNull().references('payments.id'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('gateway', 'text', (c) => c.notNull())
    .addColumn('gateway_config_id', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('failure_kind', 'text')
    .addColumn('code', 'text')
    .addColumn('message', 'text')
    .addColumn('gateway_ref', 'text')
    .addColumn('secondary_ref', 'text')
    .addColumn('receipt_number', 'text')
    .addColumn('request', 'text')
    .addColumn('response', 'text')
    .addColumn('latency_ms', 'integer')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('payment_attempts_payment_seq_uq', ['payment_id', 'seq'])
    .execute()
  await db.schema
    .createIndex('payment_attempts_gateway_ref_idx')
    .on('payment_attempts')
    .columns(['gateway', 'gateway_ref'])
    .execute()

  await db.schema
    .createTable('payment_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('payment_id', 'text', (c) => c.notNull().references('payments.id'))
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('from_status', 'text')
    .addColumn('to_status', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('payment_events_payment_idx')
    .on('payment_events')
    .columns(['payment_id', 'at'])
    .execute()

  await db.schema
    .createTable('idempotency_keys')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('payment_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['tenant_id', 'key'])
    .execute()

  await db.schema
    .createTable('breakers')
    .addColumn('branch_id', 'text', (c) => c.notNull())
    .addColumn('gateway', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('consecutive_faults', 'integer', (c) => c.notNull())
    .addColumn('changed_at_ms', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('breakers_pk', ['branch_id', 'gateway'])
    .execute()

  // Per-branch routing rules (JSON), replacing the defaults when present.
  await db.schema
    .createTable('routing_rules')
    .addColumn('branch_id', 'text', (c) => c.primaryKey())
    .addColumn('rules', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    'routing_rules',
    'breakers',
    'idempotency_keys',
    'payment_events',
    'payment_attempts',
    'payments',
  ]) {
    await db.schema.dropTable(t).execute()
  }
}
