import type { Kysely, Selectable } from 'kysely'
import { updateById } from '../store/rows.js'
import type { BranchesTable, Database } from '../store/schema.js'

export type BranchRow = Selectable<BranchesTable>
export type BranchWithTenant = BranchRow & { tenant_slug: string }

const withTenant = (db: Kysely<Database>) =>
  db
    .selectFrom('branches')
    .innerJoin('tenants', 'tenants.id', 'branches.tenant_id')
    .selectAll('branches')
    .select('tenants.slug as tenant_slug')

export const findBranchByCode = (db: Kysely<Database>, code: string) =>
  withTenant(db).where('branches.code', '=', code).executeTakeFirst()

export const findBranchById = (db: Kysely<Database>, id: string) =>
  withTenant(db).where('branches.id', '=', id).executeTakeFirst()

export function listBranches(db: Kysely<Database>, filter: { tenantId?: string } = {}) {
  let q = withTenant(db)
  if (filter.tenantId) q = q.where('branches.tenant_id', '=', filter.tenantId)
  return q.orderBy('branches.code').execute()
}

export const insertBranch = (db: Kysely<Database>, row: BranchRow) =>
  db.insertInto('branches').values(row).execute()

export const updateBranch = updateById('branches')
