import type { Kysely, Selectable } from 'kysely'
import type { Database, TenantsTable } from '../store/schema.js'

export type TenantRow = Selectable<TenantsTable>

export const findTenantBySlug = (db: Kysely<Database>, slug: string) =>
  db.selectFrom('tenants').selectAll().where('slug', '=', slug).executeTakeFirst()

export const findTenantById = (db: Kysely<Database>, id: string) =>
  db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst()

export const insertTenant = (db: Kysely<Database>, row: TenantRow) =>
  db.insertInto('tenants').values(row).execute()

const TENANT_COLUMNS = [
  'tenants.id',
  'tenants.slug',
  'tenants.name',
  'tenants.currency',
  'tenants.timezone',
  'tenants.created_at',
  'tenants.updated_at',
] as const

export async function listTenants(db: Kysely<Database>) {
  const rows = await db
    .selectFrom('tenants')
    .leftJoin('branches', 'branches.tenant_id', 'tenants.id')
    .select((eb) => [
      ...TENANT_COLUMNS,
      eb.fn.count<number | string>('branches.id').as('branch_count'),
    ])
    .groupBy([...TENANT_COLUMNS])
    .orderBy('tenants.slug')
    .execute()
  return rows.map((r) => ({ ...r, branch_count: Number(r.branch_count) }))
}

export const updateTenant = (
  db: Kysely<Database>,
  id: string,
  changes: Partial<Pick<TenantRow, 'name' | 'timezone' | 'updated_at'>>,
) => db.updateTable('tenants').set(changes).where('id', '=', id).execute()

/** Time zones of up to `n` tenants (one tenant's when `id` is given). */
export function tenantZones(db: Kysely<Database>, n: number, id?: string) {
  let q = db.selectFrom('tenants').select(['id', 'timezone'])
  if (id) q = q.where('id', '=', id)
  return q.orderBy('id').limit(n).execute()
}
