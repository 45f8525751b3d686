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
