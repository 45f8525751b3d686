import type { Kysely } from 'kysely'

// Frozen once shipped. Security review fixes (issue 10): a per-branch ceiling on one payment,
// in minor units of the branch currency. NULL means the default (10,000,000 major units).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('branches').addColumn('max_amount_minor', 'bigint').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('branches').dropColumn('max_amount_minor').execute()
}
