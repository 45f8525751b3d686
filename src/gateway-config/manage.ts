import type { Kysely } from 'kysely'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { notFound } from '../core/errors.js'
import { GATEWAY_TYPES } from '../core/gateways/types.js'
import type { Database } from '../store/schema.js'
import { listBranches } from '../tenants/branches.js'
import { listTenants } from '../tenants/tenants.js'
import {
  branchScope,
  deleteGatewayConfig,
  findGatewayConfig,
  type GatewayConfigRow,
  listGatewayConfigsOfTenant,
  setGatewayEnabled,
  tenantScope,
} from './gateways-store.js'
import {
  checkScope,
  type ResolvedScope,
  resolveScope,
  type ScopeInput,
  scopeLabel,
} from './scope.js'
import { parseGatewayType } from './setup.js'
import { type ConfigSource, type GatewayView, gatewayView, parseJsonObject } from './view.js'

export interface GatewayListRow {
  tenant: string
  /** null for a tenant-level default. */
  branch: string | null
  type: string
  /** Where the configuration in force comes from. */
  source: ConfigSource
  configId: string
  enabled: boolean
  environment: string | null
}

const listRow = (
  r: GatewayConfigRow,
  tenant: string,
  branch: string | null,
  source: ConfigSource,
): GatewayListRow => ({
  tenant,
  branch,
  type: r.type,
  source,
  configId: r.id,
  enabled: r.enabled === 1,
  environment: parseJsonObject(r.settings)['environment'] ?? null,
})

/** The tenant's own defaults and, for each branch, the configuration in force for each type. */
async function rowsForTenant(
  db: Kysely<Database>,
  tenant: { id: string; slug: string },
  onlyBranch?: string,
): Promise<GatewayListRow[]> {
  const configs = await listGatewayConfigsOfTenant(db, tenant.id)
  const byScope = new Map(configs.map((c) => [`${c.scope}|${c.type}`, c]))
  const rows: GatewayListRow[] = []
  if (!onlyBranch) {
    for (const c of configs)
      if (c.branch_id === null) rows.push(listRow(c, tenant.slug, null, 'tenant'))
  }
  for (const b of await listBranches(db, { tenantId: tenant.id })) {
    if (onlyBranch && b.code !== onlyBranch) continue
    for (const type of GATEWAY_TYPES) {
      const own = byScope.get(`${branchScope(b.id)}|${type}`)
      const inherited = byScope.get(`${tenantScope(tenant.id)}|${type}`)
      if (own) rows.push(listRow(own, tenant.slug, b.code, 'branch'))
      else if (inherited) rows.push(listRow(inherited, tenant.slug, b.code, 'tenant'))
    }
  }
  return rows
}

export async function gatewayList(ctx: Ctx, input: ScopeInput): Promise<GatewayListRow[]> {
  const store = await ctx.store()
  if (input.branch || input.tenant) {
    const s = await resolveScope(store.db, checkScope(input))
    return rowsForTenant(store.db, { id: s.tenant.id, slug: s.tenant.slug }, s.branch?.code)
  }
  const rows: GatewayListRow[] = []
  for (const t of await listTenants(store.db)) rows.push(...(await rowsForTenant(store.db, t)))
  return rows
}

/** The configuration in force for a branch (its own, else its tenant's), or a tenant's own. */
export async function effectiveConfig(
  db: Kysely<Database>,
  s: ResolvedScope,
  type: string,
): Promise<{ row: GatewayConfigRow; source: ConfigSource } | null> {
  const own = await findGatewayConfig(db, s.scope, type)
  if (own) return { row: own, source: s.branch ? 'branch' : 'tenant' }
  if (!s.branch) return null
  const inherited = await findGatewayConfig(db, tenantScope(s.tenant.id), type)
  return inherited ? { row: inherited, source: 'tenant' } : null
}

export async function gatewayShow(
  ctx: Ctx,
  typeIn: string,
  input: ScopeInput,
): Promise<GatewayView> {
  const type = parseGatewayType(typeIn)
  const scopeIn = checkScope(input)
  const store = await ctx.store()
  const s = await resolveScope(store.db, scopeIn)
  const found = await effectiveConfig(store.db, s, type)
  if (!found) throw noConfig(type, s)
  return gatewayView(
    ctx,
    found.row,
    { tenant: s.tenant.slug, branch: s.branch?.code ?? null },
    found.source,
  )
}

const noConfig = (type: string, s: ResolvedScope) =>
  notFound(
    'gateway_not_configured',
    `${scopeLabel(s)} has no ${type} configuration`,
    `set one up with \`dsh gateway setup ${type} --${s.branch ? `branch ${s.branch.code}` : `tenant ${s.tenant.slug}`}\``,
  )

/** Enable, disable or remove the scope's own configuration (never an inherited one). */
export async function changeGateway(
  ctx: Ctx,
  typeIn: string,
  input: ScopeInput & { yes?: boolean | undefined },
  change: 'enable' | 'disable' | 'remove',
): Promise<GatewayView | { removed: string }> {
  const type = parseGatewayType(typeIn)
  const scopeIn = checkScope(input)
  const store = await ctx.store()
  const s = await resolveScope(store.db, scopeIn)
  const own = await findGatewayConfig(store.db, s.scope, type)
  if (!own) {
    const inherited = s.branch
      ? await findGatewayConfig(store.db, tenantScope(s.tenant.id), type)
      : undefined
    if (inherited) {
      throw notFound(
        'gateway_inherited',
        `${scopeLabel(s)} has no ${type} configuration of its own; it uses tenant ${s.tenant.slug}'s`,
        `change it with --tenant ${s.tenant.slug} (affects every branch that inherits it), or give the branch its own with \`dsh gateway setup ${type} --branch ${s.branch?.code}\``,
      )
    }
    throw noConfig(type, s)
  }
  if (change === 'remove')
    await ctx.ask.confirm(
      `Remove the ${type} configuration of ${scopeLabel(s)}`,
      input.yes === true,
    )
  const now = ctx.clock.now().toISOString()
  await store.write(async (trx) => {
    if (change === 'remove') await deleteGatewayConfig(trx, own.id)
    else await setGatewayEnabled(trx, own.id, change === 'enable', now)
    await audit(ctx, trx, {
      action: `gateway.${change}`,
      tenant: s.tenant.slug,
      branch: s.branch?.code ?? null,
      target: own.id,
      request: { type },
    })
  })
  if (change === 'remove') return { removed: own.id }
  return gatewayView(
    ctx,
    { ...own, enabled: change === 'enable' ? 1 : 0, updated_at: now },
    { tenant: s.tenant.slug, branch: s.branch?.code ?? null },
    s.branch ? 'branch' : 'tenant',
  )
}
