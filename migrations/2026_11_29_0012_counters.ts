import { type Kysely, PostgresAdapter, sql } from 'kysely'

// Frozen once shipped. Counters behind `/metrics`, `dsh health` and `dsh report`, so that none of
// them counts the whole payments or inbox table:
//  - payment_counts: payments per branch × gateway × status × settlement status × currency
//    (count and Σ amount): the gauges and the amounts waiting for settlement;
//  - payment_hour_counts: payments per branch × UTC hour of creation × status × method ×
//    gateway × currency (count, Σ amount, and for succeeded ones Σ processing milliseconds): the
//    report's figures. A UTC hour is a whole part of any local day (zones are offset by whole
//    quarter hours; the ones not on the hour are read with their edge minutes from `payments`);
//  - inbox_counts: callback inbox entries per gateway × status (count, Σ duplicates).
// Triggers keep them in the same transaction as every INSERT, UPDATE or DELETE of a payment or an
// inbox entry, whichever code path makes it (one-row moves, set-based settlement statements, SQL
// seeders). The gateway of a payment with none is '' (key columns are NOT NULL).
// The tables are filled from the rows already there, so an upgraded store starts right.

/** The advisory lock one folding transaction holds (PostgreSQL). */
const FOLD_LOCK = 1685283939

const isPg = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter

/** Milliseconds from creation to completion of a succeeded payment (0 otherwise); `r.` prefix. */
function processingMs(db: Kysely<any>, r: string): string {
  const done = `${r}status = 'succeeded' and ${r}completed_at is not null`
  const ms = isPg(db)
    ? `round(extract(epoch from (${r}completed_at::timestamptz - ${r}created_at::timestamptz)) * 1000)::bigint`
    : `cast(round((julianday(${r}completed_at) - julianday(${r}created_at)) * 86400000.0) as integer)`
  return `case when ${done} then ${ms} else 0 end`
}
const completed = (r: string) =>
  `case when ${r}status = 'succeeded' and ${r}completed_at is not null then 1 else 0 end`

const PAYMENT_KEYS = [
  'tenant_id',
  'branch_id',
  'gateway',
  'status',
  'settlement_status',
  'currency',
] as const
const HOUR_KEYS = [
  'branch_id',
  'hour',
  'status',
  'method',
  'gateway',
  'currency',
  'tenant_id',
] as const
const INBOX_KEYS = ['gateway', 'status'] as const

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('payment_counts')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('branch_id', 'text', (c) => c.notNull())
    .addColumn('gateway', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('settlement_status', 'text', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addColumn('amount_minor', 'bigint', (c) => c.notNull())
    .addColumn('delta', 'integer', (c) => c.notNull().defaultTo(0))
    .execute()
  await db.schema
    .createTable('payment_hour_counts')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('branch_id', 'text', (c) => c.notNull())
    .addColumn('hour', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('gateway', 'text', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addColumn('amount_minor', 'bigint', (c) => c.notNull())
    .addColumn('completed_count', 'bigint', (c) => c.notNull())
    .addColumn('processing_ms', 'bigint', (c) => c.notNull())
    .addColumn('delta', 'integer', (c) => c.notNull().defaultTo(0))
    .execute()
  await db.schema
    .createTable('inbox_counts')
    .addColumn('gateway', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addColumn('duplicates', 'bigint', (c) => c.notNull())
    .addColumn('delta', 'integer', (c) => c.notNull().defaultTo(0))
    .execute()
  // SQLite (one writer at a time): one row per key, updated in place. PostgreSQL: moves only
  // append delta rows (delta = 1), so concurrent transactions never wait on a counter row (a hot
  // row locked mid-transaction deadlocks against the audit head's lock); every so often a move
  // folds them into one row per key (delta = 0). Readers sum the rows of a key.
  for (const [table, keys] of [
    ['payment_counts', PAYMENT_KEYS],
    ['payment_hour_counts', HOUR_KEYS],
    ['inbox_counts', INBOX_KEYS],
  ] as const) {
    const index = db.schema
      .createIndex(`${table}_key`)
      .on(table)
      .columns([...keys])
    await (isPg(db) ? index : index.unique()).execute()
    if (isPg(db))
      await db.schema
        .createIndex(`${table}_delta`)
        .on(table)
        .columns([...keys])
        .where(sql.ref('delta'), '=', 1)
        .execute()
  }

  // Backfill from the rows already there.
  await sql
    .raw(`insert into payment_counts
      (tenant_id, branch_id, gateway, status, settlement_status, currency, count, amount_minor)
      select tenant_id, branch_id, coalesce(gateway, ''), status, settlement_status, currency,
        count(*), coalesce(sum(amount_minor), 0)
      from payments
      group by tenant_id, branch_id, coalesce(gateway, ''), status, settlement_status, currency`)
    .execute(db)
  await sql
    .raw(`insert into payment_hour_counts
      (tenant_id, branch_id, hour, status, method, gateway, currency, count, amount_minor,
       completed_count, processing_ms)
      select tenant_id, branch_id, substr(created_at, 1, 13), status, method,
        coalesce(gateway, ''), currency, count(*), coalesce(sum(amount_minor), 0),
        coalesce(sum(${completed('')}), 0), coalesce(sum(${processingMs(db, '')}), 0)
      from payments
      group by tenant_id, branch_id, substr(created_at, 1, 13), status, method,
        coalesce(gateway, ''), currency`)
    .execute(db)
  await sql
    .raw(`insert into inbox_counts (gateway, status, count, duplicates)
      select gateway, status, count(*), coalesce(sum(duplicates), 0)
      from callback_inbox group by gateway, status`)
    .execute(db)

  if (isPg(db)) await pgTriggers(db)
  else await sqliteTriggers(db)
}

async function sqliteTriggers(db: Kysely<any>): Promise<void> {
  // One row trigger per event; each applies -OLD and/or +NEW.
  const totals = (r: 'NEW' | 'OLD', sign: '' | '-') => `
    insert into payment_counts
      (tenant_id, branch_id, gateway, status, settlement_status, currency, count, amount_minor)
    values (${r}.tenant_id, ${r}.branch_id, coalesce(${r}.gateway, ''), ${r}.status,
      ${r}.settlement_status, ${r}.currency, ${sign}1, ${sign}${r}.amount_minor)
    on conflict (tenant_id, branch_id, gateway, status, settlement_status, currency) do update set
      count = count + excluded.count, amount_minor = amount_minor + excluded.amount_minor;`
  const hours = (r: 'NEW' | 'OLD', sign: '' | '-') => `
    insert into payment_hour_counts
      (tenant_id, branch_id, hour, status, method, gateway, currency, count, amount_minor,
       completed_count, processing_ms)
    values (${r}.tenant_id, ${r}.branch_id, substr(${r}.created_at, 1, 13), ${r}.status,
      ${r}.method, coalesce(${r}.gateway, ''), ${r}.currency, ${sign}1, ${sign}${r}.amount_minor,
      ${sign}(${completed(`${r}.`)}), ${sign}(${processingMs(db, `${r}.`)}))
    on conflict (branch_id, hour, status, method, gateway, currency, tenant_id) do update set
      count = count + excluded.count, amount_minor = amount_minor + excluded.amount_minor,
      completed_count = completed_count + excluded.completed_count,
      processing_ms = processing_ms + excluded.processing_ms;`
  const inbox = (r: 'NEW' | 'OLD', sign: '' | '-') => `
    insert into inbox_counts (gateway, status, count, duplicates)
    values (${r}.gateway, ${r}.status, ${sign}1, ${sign}${r}.duplicates)
    on conflict (gateway, status) do update set
      count = count + excluded.count, duplicates = duplicates + excluded.duplicates;`
  // Settlement moves change only what payment_counts keys on: they leave the hourly rows alone.
  const totalsCols = [
    'tenant_id',
    'branch_id',
    'gateway',
    'status',
    'settlement_status',
    'currency',
    'amount_minor',
  ]
  const hourCols = [
    'tenant_id',
    'branch_id',
    'gateway',
    'status',
    'currency',
    'amount_minor',
    'method',
    'created_at',
    'completed_at',
  ]
  const changed = (cols: string[]) => cols.map((c) => `OLD.${c} is not NEW.${c}`).join(' or ')
  const statements = [
    `create trigger payments_counters_insert after insert on payments begin
      ${totals('NEW', '')} ${hours('NEW', '')} end`,
    `create trigger payments_counters_update after update of ${totalsCols.join(', ')} on payments
      when ${changed(totalsCols)} begin
      ${totals('OLD', '-')} ${totals('NEW', '')} end`,
    `create trigger payments_hour_counters_update after update of ${hourCols.join(', ')}
      on payments when ${changed(hourCols)} begin
      ${hours('OLD', '-')} ${hours('NEW', '')} end`,
    `create trigger payments_counters_delete after delete on payments begin
      ${totals('OLD', '-')} ${hours('OLD', '-')} end`,
    `create trigger inbox_counters_insert after insert on callback_inbox begin
      ${inbox('NEW', '')} end`,
    `create trigger inbox_counters_update after update of gateway, status, duplicates
      on callback_inbox when OLD.gateway is not NEW.gateway or OLD.status is not NEW.status
      or OLD.duplicates is not NEW.duplicates begin
      ${inbox('OLD', '-')} ${inbox('NEW', '')} end`,
    `create trigger inbox_counters_delete after delete on callback_inbox begin
      ${inbox('OLD', '-')} end`,
  ]
  for (const s of statements) await sql.raw(s).execute(db)
}

/** Folds a table's delta rows into one row per key (PostgreSQL). */
function compact(table: string, keys: readonly string[], sums: readonly string[]): string {
  const k = keys.join(', ')
  const on = keys.map((c) => `t.${c} = k.${c}`).join(' and ')
  return `
    with k as (select distinct ${k} from ${table} where delta = 1),
    gone as (delete from ${table} t using k where ${on} returning t.*)
    insert into ${table} (${k}, ${sums.join(', ')}, delta)
    select ${k}, ${sums.map((c) => `sum(${c})`).join(', ')}, 0 from gone group by ${k}
    having ${sums.map((c) => `sum(${c}) <> 0`).join(' or ')};`
}

async function pgTriggers(db: Kysely<any>): Promise<void> {
  // Statement triggers over transition tables: one grouped insert per statement, however many
  // rows it moved (a settlement batch moves thousands). Every 32nd statement also folds the
  // delta rows, if no other transaction is folding them (an advisory lock tried, never waited
  // for): the rows it deletes are committed ones nobody else locks, so it never deadlocks.
  await sql.raw('create sequence dsh_counters_fold').execute(db)
  await sql
    .raw(`create function dsh_fold_counters() returns void language plpgsql as $$
    begin
      ${compact('payment_counts', PAYMENT_KEYS, ['count', 'amount_minor'])}
      ${compact('payment_hour_counts', HOUR_KEYS, ['count', 'amount_minor', 'completed_count', 'processing_ms'])}
      ${compact('inbox_counts', INBOX_KEYS, ['count', 'duplicates'])}
    end $$`)
    .execute(db)
  const fold = `if nextval('dsh_counters_fold') % 32 = 0 and pg_try_advisory_xact_lock(${FOLD_LOCK}) then
        perform dsh_fold_counters();
      end if;`
  const delta = (cols: string, table: 'new_rows' | 'old_rows', sign: 1 | -1, extra: string) =>
    `select ${cols}, ${sign}::bigint as n, ${sign} * amount_minor as a${extra} from ${table}`
  const paymentKeys = `tenant_id, branch_id, coalesce(gateway, '') as gateway, status,
    settlement_status, currency`
  const hourKeys = `tenant_id, branch_id, substr(created_at, 1, 13) as hour, status, method,
    coalesce(gateway, '') as gateway, currency`
  const hourExtra = (sign: 1 | -1) =>
    `, ${sign} * (${completed('')}) as c, ${sign} * (${processingMs(db, '')}) as ms`
  const applyPayments = (parts: string[]) => `
    insert into payment_counts
      (tenant_id, branch_id, gateway, status, settlement_status, currency, count, amount_minor,
       delta)
    select tenant_id, branch_id, gateway, status, settlement_status, currency, sum(n), sum(a), 1
    from (${parts.join(' union all ')}) d
    group by tenant_id, branch_id, gateway, status, settlement_status, currency
    having sum(n) <> 0 or sum(a) <> 0;`
  const applyHours = (parts: string[]) => `
    insert into payment_hour_counts
      (tenant_id, branch_id, hour, status, method, gateway, currency, count, amount_minor,
       completed_count, processing_ms, delta)
    select tenant_id, branch_id, hour, status, method, gateway, currency, sum(n), sum(a), sum(c),
      sum(ms), 1
    from (${parts.join(' union all ')}) d
    group by tenant_id, branch_id, hour, status, method, gateway, currency
    having sum(n) <> 0 or sum(a) <> 0 or sum(c) <> 0 or sum(ms) <> 0;`
  const plus = [delta(paymentKeys, 'new_rows', 1, '')]
  const minus = [delta(paymentKeys, 'old_rows', -1, '')]
  const hPlus = [delta(hourKeys, 'new_rows', 1, hourExtra(1))]
  const hMinus = [delta(hourKeys, 'old_rows', -1, hourExtra(-1))]
  await sql
    .raw(`create function dsh_payments_counters() returns trigger language plpgsql as $$
    begin
      if tg_op = 'INSERT' then
        ${applyPayments(plus)}
        ${applyHours(hPlus)}
      elsif tg_op = 'UPDATE' then
        ${applyPayments([...minus, ...plus])}
        ${applyHours([...hMinus, ...hPlus])}
      else
        ${applyPayments(minus)}
        ${applyHours(hMinus)}
      end if;
      ${fold}
      return null;
    end $$`)
    .execute(db)
  const inboxDelta = (table: 'new_rows' | 'old_rows', sign: 1 | -1) =>
    `select gateway, status, ${sign}::bigint as n, ${sign} * duplicates::bigint as d from ${table}`
  const applyInbox = (parts: string[]) => `
    insert into inbox_counts (gateway, status, count, duplicates, delta)
    select gateway, status, sum(n), sum(d), 1 from (${parts.join(' union all ')}) x
    group by gateway, status having sum(n) <> 0 or sum(d) <> 0;`
  await sql
    .raw(`create function dsh_inbox_counters() returns trigger language plpgsql as $$
    begin
      if tg_op = 'INSERT' then
        ${applyInbox([inboxDelta('new_rows', 1)])}
      elsif tg_op = 'UPDATE' then
        ${applyInbox([inboxDelta('old_rows', -1), inboxDelta('new_rows', 1)])}
      else
        ${applyInbox([inboxDelta('old_rows', -1)])}
      end if;
      ${fold}
      return null;
    end $$`)
    .execute(db)
  for (const [table, fn] of [
    ['payments', 'dsh_payments_counters'],
    ['callback_inbox', 'dsh_inbox_counters'],
  ] as const) {
    const prefix = table === 'payments' ? 'payments_counters' : 'inbox_counters'
    await sql
      .raw(`create trigger ${prefix}_insert after insert on ${table}
        referencing new table as new_rows for each statement execute function ${fn}()`)
      .execute(db)
    await sql
      .raw(`create trigger ${prefix}_update after update on ${table}
        referencing old table as old_rows new table as new_rows
        for each statement execute function ${fn}()`)
      .execute(db)
    await sql
      .raw(`create trigger ${prefix}_delete after delete on ${table}
        referencing old table as old_rows for each statement execute function ${fn}()`)
      .execute(db)
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  if (!isPg(db)) await sql.raw('drop trigger if exists payments_hour_counters_update').execute(db)
  for (const t of ['payments_counters', 'inbox_counters']) {
    const table = t === 'payments_counters' ? 'payments' : 'callback_inbox'
    for (const e of ['insert', 'update', 'delete']) {
      await sql
        .raw(
          isPg(db)
            ? `drop trigger if exists ${t}_${e} on ${table}`
            : `drop trigger if exists ${t}_${e}`,
        )
        .execute(db)
    }
  }
  if (isPg(db)) {
    await sql.raw('drop function if exists dsh_payments_counters()').execute(db)
    await sql.raw('drop function if exists dsh_inbox_counters()').execute(db)
    await sql.raw('drop function if exists dsh_fold_counters()').execute(db)
    await sql.raw('drop sequence if exists dsh_counters_fold').execute(db)
  }
  await db.schema.dropTable('inbox_counts').execute()
  await db.schema.dropTable('payment_hour_counts').execute()
  await db.schema.dropTable('payment_counts').execute()
}
