import { type Kysely, sql } from 'kysely'

// Frozen once shipped. Cash is banked, never transferred: a settlement run makes a cash-up (the
// deposit a branch owes its bank account) where it used to make a transfer batch for `cash`.
// A cash-up is a settlement_batches row of kind `cash_deposit` (gateway `cash`, status
// awaiting_deposit → deposited | cancelled, no fees, net = gross = the expected deposit), so the
// indexes of migration 0005 guard it as they guard batches: one live row per (branch, gateway
// `cash`, currency, period end) — awaiting_deposit and deposited are live, only failed and
// cancelled free the slot — and a payment in at most one live item, whatever the kind.
// The check keeps a cash-up what it claims to be, on both dialects (SQLite checks column
// constraints added by ALTER TABLE on every later write; rows already there are transfers).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('settlement_batches')
    .addColumn('kind', 'text', (c) =>
      c
        .notNull()
        .defaultTo('transfer')
        .check(
          sql`kind = 'transfer' or (kind = 'cash_deposit' and gateway = 'cash'
            and fees_minor = 0 and net_minor = gross_minor
            and status in ('awaiting_deposit', 'deposited', 'cancelled'))`,
        ),
    )
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('settlement_batches').dropColumn('kind').execute()
}
