import type { Kysely } from 'kysely'
import type { Database } from '../store/schema.js'

export async function readRoutingRules(
  db: Kysely<Database>,
  branchId: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('routing_rules')
    .select('rules')
    .where('branch_id', '=', branchId)
    .executeTakeFirst()
  return row?.rules
}

export async function writeRoutingRules(
  db: Kysely<Database>,
  branchId: string,
  rules: string,
  now: string,
): Promise<void> {
  await db
    .insertInto('routing_rules')
    .values({ branch_id: branchId, rules, updated_at: now })
    .onConflict((oc) => oc.column('branch_id').doUpdateSet({ rules, updated_at: now }))
    .execute()
}

export const deleteRoutingRules = (db: Kysely<Database>, branchId: string) =>
  db.deleteFrom('routing_rules').where('branch_id', '=', branchId).execute()
