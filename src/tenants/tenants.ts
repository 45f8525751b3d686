import type { Kysely } from 'kysely'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { conflict, fieldError, notFound } from '../core/errors.js'
import { currency } from '../core/money/index.js'
import { DEFAULT_TIMEZONE } from '../core/time.js'
import { parseName, parseSlug, parseTimeZone } from '../core/validate.js'
import { isUniqueViolation } from '../store/errors.js'
import type { Database } from '../store/schema.js'
import { findBranchByCode } from './branches-store.js'
import {
  findTenantBySlug,
  insertTenant,
  listTenants,
  type TenantRow,
  tenantZones,
  updateTenant,
} from './tenants-store.js'

export interface TenantView {
  id: string
  slug: string
  name: string
  currency: string
  /** IANA zone of the tenant: human times of lists over several branches use it. */
  timezone: string
  branchCount?: number
  createdAt: string
  updatedAt: string
}

const view = (r: TenantRow, branchCount?: number): TenantView => ({
  id: r.id,
  slug: r.slug,
  name: r.name,
  currency: r.currency,
  timezone: r.timezone,
  ...(branchCount === undefined ? {} : { branchCount }),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

export interface AddTenantInput {
  slug: string
  name: string
  currency?: string | undefined
  /** IANA time zone; default Africa/Nairobi. */
  timezone?: string | undefined
}

export async function addTenant(ctx: Ctx, input: AddTenantInput): Promise<TenantView> {
  const slug = parseSlug(input.slug, 'tenant slug')
  const name = parseName(input.name, 'tenant name')
  const cur = currency(input.currency ?? 'KES').code
  const timezone = parseTimeZone(input.timezone ?? DEFAULT_TIMEZONE)
  const store = await ctx.store()
  const now = ctx.clock.now().toISOString()
  const row: TenantRow = {
    id: ctx.ids.next('tn'),
    slug,
    name,
    currency: cur,
    timezone,
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
        request: { slug, name, currency: cur, timezone },
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

export interface SetTenantInput {
  slug: string
  name?: string | undefined
  timezone?: string | undefined
}

/** `dsh tenant set`: the name and the time zone; one audit row with what changed. */
export async function setTenant(ctx: Ctx, input: SetTenantInput): Promise<TenantView> {
  const slug = parseSlug(input.slug, 'tenant slug')
  const changes: { name?: string; timezone?: string } = {}
  if (input.name !== undefined) changes.name = parseName(input.name, 'tenant name')
  if (input.timezone !== undefined) changes.timezone = parseTimeZone(input.timezone)
  if (Object.keys(changes).length === 0)
    throw fieldError(
      'usage',
      'nothing_to_change',
      ['name', 'timezone'],
      'give at least one of name, timezone',
    )
  const store = await ctx.store()
  const now = ctx.clock.now().toISOString()
  return store.write(async (trx) => {
    const t = await requireTenant(trx, slug)
    await updateTenant(trx, t.id, { ...changes, updated_at: now })
    await audit(ctx, trx, {
      action: 'tenant.update',
      tenant: slug,
      target: t.id,
      request: changes,
    })
    return view({ ...t, ...changes, updated_at: now })
  })
}

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

/**
 * The time zone for human times about a branch (its own), a tenant (its own), or neither (the
 * listing zone below). Unknown codes fall back quietly: this is for display only.
 */
export async function displayZone(
  ctx: Ctx,
  scope: { branch?: string | null | undefined; tenant?: string | null | undefined } = {},
): Promise<string> {
  const store = await ctx.store()
  if (scope.branch) {
    const b = await findBranchByCode(store.db, scope.branch)
    if (b) return b.timezone
  }
  if (scope.tenant) {
    const t = await findTenantBySlug(store.db, scope.tenant)
    if (t) return t.timezone
  }
  return listingZone(store.db)
}

/**
 * The time zone of a listing: the branch's when one branch is asked for, else the tenant's (the
 * given one, or the only one in the store), else the default Africa/Nairobi.
 */
export async function listingZone(
  db: Kysely<Database>,
  scope: { branch?: { timezone: string } | undefined; tenantId?: string | undefined } = {},
): Promise<string> {
  if (scope.branch) return scope.branch.timezone
  const zones = await tenantZones(db, 2, scope.tenantId)
  return zones.length === 1 && zones[0] ? zones[0].timezone : DEFAULT_TIMEZONE
}
