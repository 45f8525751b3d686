import type { Kysely } from 'kysely'
import { valueWhere } from '../store/rows.js'
import type { Database } from '../store/schema.js'

export const readRoutingRules = (
  db: Kysely<Database>,
  branchId: string,
): Promise<string | undefined> => valueWhere(db, 'routing_rules', 'rules', { branch_id: branchId })

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
