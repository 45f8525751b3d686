import type { Kysely } from 'kysely'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { conflict, notFound } from '../core/errors.js'
import { currency } from '../core/money/index.js'
import { parseName, parseSlug } from '../core/validate.js'
import { isUniqueViolation } from '../store/errors.js'
import type { Database } from '../store/schema.js'
import { findTenantBySlug, insertTenant, listTenants, type TenantRow } from './tenants-store.js'

export interface TenantView {
  id: string
  slug: string
  name: string
  currency: string
  branchCount?: number
  createdAt: string
  updatedAt: string
}

const view = (r: TenantRow, branchCount?: number): TenantView => ({
  id: r.id,
  slug: r.slug,
  name: r.name,
  currency: r.currency,
  ...(branchCount === undefined ? {} : { branchCount }),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

export interface AddTenantInput {
  slug: string
  name: string
  currency?: string | undefined
}

export async function addTenant(ctx: Ctx, input: AddTenantInput): Promise<TenantView> {
  const slug = parseSlug(input.slug, 'tenant slug')
  const name = parseName(input.name, 'tenant name')
  const cur = currency(input.currency ?? 'KES').code
  const store = await ctx.store()
  const now = ctx.clock.now().toISOString()
  const row: TenantRow = {
    id: ctx.ids.next('tn'),
    slug,
    name,
    currency: cur,
    created_at: now,
    updated_at: now,
  }
  try {
    await store.write(async (trx) => {
      if (await findTenantBySlug(trx, slug)) throw tenantExists(slug)
      await insertTenant(trx, row)
      await audit(ctx, trx, {
        action: 'tenant.create',
        tenant: slug,
        target: row.id,
        request: { slug, name, currency: cur },
      })
    })
  } catch (err) {
    throw isUniqueViolation(err) ? tenantExists(slug) : err
  }
  return view(row, 0)
}

const tenantExists = (slug: string) =>
  conflict(
    'tenant_exists',
    `tenant "${slug}" already exists`,
    'choose another slug, or see `dsh tenant list`',
  )

export async function tenantList(ctx: Ctx): Promise<TenantView[]> {
  const store = await ctx.store()
  return (await listTenants(store.db)).map((r) => view(r, r.branch_count))
}

/** Finds a tenant by slug or throws exit 4 with a hint. */
export async function requireTenant(db: Kysely<Database>, slug: string): Promise<TenantRow> {
  const t = await findTenantBySlug(db, slug)
  if (!t)
    throw notFound(
      'tenant_not_found',
      `no tenant "${slug}"`,
      'see `dsh tenant list`, or add it with `dsh tenant add`',
    )
  return t
}

export { listTenants, type TenantRow } from './tenants-store.js'
