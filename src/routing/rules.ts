import type { Kysely } from 'kysely'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { DshError, notFound } from '../core/errors.js'
import { toDecimalString } from '../core/money/format.js'
import {
  defaultRules,
  parseRules,
  type RouteDecision,
  type RouteInput,
  type RoutingRules,
  route,
} from '../core/payments/routing.js'
import { parseSlug } from '../core/validate.js'
import { checkAmount } from '../gateway-config/adapters.js'
import { type BranchGateway, branchGateways, offersOf } from '../gateway-config/in-force.js'
import type { Database } from '../store/schema.js'
import type { BranchWithTenant } from '../tenants/branches.js'
import { requireBranch } from '../tenants/branches.js'
import { deleteRoutingRules, readRoutingRules, writeRoutingRules } from './routing-store.js'

export interface RulesInForce {
  source: 'branch' | 'default'
  rules: RoutingRules
}

/** The branch's own rules, else the defaults (the high-value threshold from its KCB set-up). */
export async function rulesFor(
  db: Kysely<Database>,
  branch: BranchWithTenant,
  gateways: readonly BranchGateway[],
): Promise<RulesInForce> {
  const own = await readRoutingRules(db, branch.id)
  if (own) return { source: 'branch', rules: parseRules(JSON.parse(own)) }
  const kcb = gateways.find((g) => g.type === 'mpesa-kcb')
  const thresholdMinor = kcb?.settings['highValueThreshold']
  const kcbCurrency = kcb?.settings['defaultCurrency'] ?? 'KES'
  const threshold = thresholdMinor
    ? toDecimalString({ minor: BigInt(thresholdMinor), currency: kcbCurrency })
    : '10000'
  return { source: 'default', rules: defaultRules(threshold) }
}

export async function decideRoute(
  db: Kysely<Database>,
  branch: BranchWithTenant,
  input: Omit<RouteInput, 'branchCurrency'>,
) {
  const gateways = await branchGateways(db, branch)
  const inForce = await rulesFor(db, branch, gateways)
  const decision: RouteDecision = route(
    { ...input, branchCurrency: branch.currency },
    inForce.rules,
    offersOf(gateways, branch.currency),
  )
  return { decision, gateways, rulesSource: inForce.source }
}

export async function showRules(
  ctx: Ctx,
  code: string,
): Promise<RulesInForce & { branch: string }> {
  const store = await ctx.store()
  const branch = await requireBranch(store.db, parseSlug(code, 'branch code'))
  return {
    branch: branch.code,
    ...(await rulesFor(store.db, branch, await branchGateways(store.db, branch))),
  }
}

/** Replaces the branch's rules with a validated document; `null` goes back to the defaults. */
export async function setRules(
  ctx: Ctx,
  code: string,
  doc: unknown | null,
): Promise<RulesInForce & { branch: string }> {
  parseSlug(code, 'branch code')
  const rules = doc === null ? null : parseRules(doc)
  const store = await ctx.store()
  const now = ctx.clock.now().toISOString()
  return store.write(async (trx) => {
    const branch = await requireBranch(trx, code)
    if (!branch) throw notFound('branch_not_found', `no branch "${code}"`)
    if (rules) await writeRoutingRules(trx, branch.id, JSON.stringify(rules), now)
    else await deleteRoutingRules(trx, branch.id)
    await audit(ctx, trx, {
      action: rules ? 'route.set' : 'route.reset',
      tenant: branch.tenant_slug,
      branch: branch.code,
      request: rules ?? {},
    })
    return {
      branch: branch.code,
      ...(await rulesFor(trx, branch, await branchGateways(trx, branch))),
    }
  })
}

/**
 * Marks gateways that cannot be sent this amount exactly (M-Pesa whole shillings, Stripe's UGX
 * rule…) as ineligible, before anything is recorded. Returns the reasons, `gateway: message`.
 */
export function excludeUnsendable(
  decision: RouteDecision,
  amountMinor: bigint,
  currency: string,
): string[] {
  const rejected: string[] = []
  for (const c of decision.candidates) {
    if (!c.eligible) continue
    try {
      checkAmount(c.gateway, amountMinor, currency)
    } catch (err) {
      if (!(err instanceof DshError)) throw err
      rejected.push(`${c.gateway}: ${err.message}`)
      Object.assign(c, { eligible: false, reason: err.message })
    }
  }
  decision.order = decision.candidates.filter((c) => c.eligible).map((c) => c.gateway)
  return rejected
}
