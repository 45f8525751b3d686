import type { Kysely } from 'kysely'
import type { FeeStructure } from '../core/gateways/fees.js'
import { GATEWAY_TYPES, type GatewayType } from '../core/gateways/types.js'
import { type Breaker, type BreakerSettings, DEFAULT_BREAKER } from '../core/payments/breaker.js'
import type { GatewayOffer } from '../core/payments/routing.js'
import type { Database } from '../store/schema.js'
import type { BranchWithTenant } from '../tenants/branches.js'
import {
  branchScope,
  type GatewayConfigRow,
  listGatewayConfigsOfTenant,
  tenantScope,
} from './gateways-store.js'
import { type ConfigSource, feesOf, parseJsonObject } from './view.js'

/** A gateway configuration in force for a branch (its own, else its tenant's). */
export interface BranchGateway {
  type: GatewayType
  row: GatewayConfigRow
  source: ConfigSource
  settings: Record<string, string>
  fees: FeeStructure
}

export async function branchGateways(
  db: Kysely<Database>,
  branch: BranchWithTenant,
): Promise<BranchGateway[]> {
  const configs = await listGatewayConfigsOfTenant(db, branch.tenant_id)
  const out: BranchGateway[] = []
  for (const type of GATEWAY_TYPES) {
    const own = configs.find((c) => c.scope === branchScope(branch.id) && c.type === type)
    const inherited = configs.find(
      (c) => c.scope === tenantScope(branch.tenant_id) && c.type === type,
    )
    const row = own ?? inherited
    if (row)
      out.push({
        type,
        row,
        source: own ? 'branch' : 'tenant',
        settings: parseJsonObject(row.settings),
        fees: feesOf(row),
      })
  }
  return out
}

/** What each gateway offers the router: enabled or not, and which currencies it takes. */
export function offersOf(
  gateways: readonly BranchGateway[],
  branchCurrency: string,
): GatewayOffer[] {
  return gateways.map((g) => ({
    type: g.type,
    enabled: g.row.enabled === 1,
    currencies:
      g.type === 'mpesa'
        ? ['KES']
        : g.type === 'mpesa-kcb'
          ? (g.settings['currencies'] ?? 'KES').split(',')
          : g.type === 'square'
            ? [branchCurrency]
            : 'any',
  }))
}

export function breakerSettings(g: BranchGateway): BreakerSettings {
  const threshold = Number(g.settings['breakerThreshold'] ?? DEFAULT_BREAKER.threshold)
  const cooldownS = Number(g.settings['breakerCooldown'] ?? DEFAULT_BREAKER.cooldownMs / 1000)
  return { threshold, cooldownMs: cooldownS * 1000 }
}

export type { Breaker }
