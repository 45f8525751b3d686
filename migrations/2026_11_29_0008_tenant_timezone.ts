import type { Kysely } from 'kysely'

// Frozen once shipped. Tenants get a time zone: human times, and the days that --date/--from/--to
// and --since YYYY-MM-DD name, are in the branch's zone, else the tenant's. Existing tenants get
// Africa/Nairobi, the default.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('tenants')
    .addColumn('timezone', 'text', (c) => c.notNull().defaultTo('Africa/Nairobi'))
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('tenants').dropColumn('timezone').execute()
}
