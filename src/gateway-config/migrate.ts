import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Kysely } from 'kysely'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { parseSlug } from '../core/validate.js'
import type { Database } from '../store/schema.js'
import { listBranches } from '../tenants/branches.js'
import { seal, unseal } from '../vault/vault.js'
import {
  branchScope,
  deleteGatewayConfig,
  type GatewayConfigRow,
  insertGatewayConfig,
  listGatewayConfigsOfTenant,
} from './gateways-store.js'
import { resolveScope } from './scope.js'
import { parseJsonObject, secretContext } from './view.js'

export interface MigratePlanItem {
  type: string
  branch: string
  fromConfigId: string
  newConfigId: string
}

export interface MigrateResult {
  tenant: string
  dryRun: boolean
  copied: MigratePlanItem[]
  removedTenantConfigs: string[]
  backup: string | null
}

/**
 * Copies the tenant's configurations down to every branch that lacks its own (the report's
 * migration); with removeTenant the tenant copies are then deleted, making it a move. Secrets are
 * re-encrypted for their new rows. A backup of everything touched is written first.
 */
export async function migrateTenantGateways(
  ctx: Ctx,
  input: { tenant: string; dryRun?: boolean | undefined; removeTenant?: boolean | undefined },
): Promise<MigrateResult> {
  const slug = parseSlug(input.tenant, 'tenant slug')
  const store = await ctx.store()
  const now = ctx.clock.now().toISOString()
  const plan = async (db: Kysely<Database>) => {
    const s = await resolveScope(db, { tenant: slug })
    const configs = await listGatewayConfigsOfTenant(db, s.tenant.id)
    const defaults = configs.filter((c) => c.branch_id === null)
    const owned = new Set(
      configs.filter((c) => c.branch_id !== null).map((c) => `${c.branch_id}|${c.type}`),
    )
    const branches = await listBranches(db, { tenantId: s.tenant.id })
    const copies: { from: GatewayConfigRow; branch: { id: string; code: string }; id: string }[] =
      []
    for (const d of defaults) {
      for (const b of branches)
        if (!owned.has(`${b.id}|${d.type}`))
          copies.push({ from: d, branch: b, id: ctx.ids.next('gw') })
    }
    return { s, configs, defaults, copies }
  }
  const result = (
    p: Awaited<ReturnType<typeof plan>>,
    backup: string | null,
    dryRun: boolean,
  ): MigrateResult => ({
    tenant: slug,
    dryRun,
    copied: p.copies.map((c) => ({
      type: c.from.type,
      branch: c.branch.code,
      fromConfigId: c.from.id,
      newConfigId: c.id,
    })),
    removedTenantConfigs: input.removeTenant ? p.defaults.map((d) => d.id) : [],
    backup,
  })
  if (input.dryRun) return result(await plan(store.db), null, true)

  let backup: string | null = null
  const p = await store.write(async (trx) => {
    const p = await plan(trx)
    if (p.copies.length === 0 && !(input.removeTenant && p.defaults.length > 0)) return p
    backup = writeBackup(ctx, `gateway-migrate-${slug}`, now, p.configs)
    for (const c of p.copies) {
      const secrets = parseJsonObject(c.from.secrets)
      const resealed: Record<string, string> = {}
      for (const [field, envelope] of Object.entries(secrets)) {
        resealed[field] = seal(
          ctx,
          unseal(ctx, envelope, secretContext(c.from.id, field)),
          secretContext(c.id, field),
        )
      }
      await insertGatewayConfig(trx, {
        ...c.from,
        id: c.id,
        branch_id: c.branch.id,
        scope: branchScope(c.branch.id),
        secrets: JSON.stringify(resealed),
        created_at: now,
        updated_at: now,
      })
    }
    if (input.removeTenant) for (const d of p.defaults) await deleteGatewayConfig(trx, d.id)
    await audit(ctx, trx, {
      action: 'gateway.migrate',
      tenant: slug,
      request: {
        copied: p.copies.map((c) => ({ type: c.from.type, branch: c.branch.code })),
        removeTenant: input.removeTenant === true,
        backup,
      },
    })
    return p
  })
  return result(p, backup, false)
}

/** Writes rows as stored (secrets stay encrypted) under $DSH_HOME/backups/, mode 0600. */
function writeBackup(ctx: Ctx, name: string, now: string, rows: unknown[]): string {
  const dir = join(ctx.home, 'backups')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const path = join(dir, `${name}-${now.replace(/[:.]/g, '-')}.json`)
  writeFileSync(
    path,
    `${JSON.stringify({ createdAt: now, rows }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`,
    { mode: 0o600, flag: 'wx' },
  )
  return path
}
