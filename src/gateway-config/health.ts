import type { Ctx } from '../context.js'
import { configError, DshError } from '../core/errors.js'
import { admit, closedBreaker } from '../core/payments/breaker.js'
import type { CredentialCheck } from '../core/payments/gateway-port.js'
import { parseSlug } from '../core/validate.js'
import { listBreakers } from '../payments/records.js'
import { listBranches, requireBranch } from '../tenants/branches.js'
import { adapterFor } from './adapters.js'
import { branchGateways, breakerSettings } from './in-force.js'
import { parseGatewayType } from './setup.js'

export interface BreakerView {
  branch: string
  gateway: string
  enabled: boolean
  source: string
  breaker: 'closed' | 'open' | 'half_open'
  consecutiveFaults: number
  /** When an open breaker lets its next probe through. */
  retryAt: string | null
}

/** `dsh gateway status`: every branch × configured gateway with its breaker. */
export async function gatewayStatus(ctx: Ctx, branchCode?: string): Promise<BreakerView[]> {
  const store = await ctx.store()
  const branches = branchCode
    ? [await requireBranch(store.db, parseSlug(branchCode, 'branch code'))]
    : await listBranches(store.db)
  const breakers = await listBreakers(store.db, branchCode ? branches[0]?.id : undefined)
  const nowMs = ctx.clock.now().getTime()
  const out: BreakerView[] = []
  for (const b of branches) {
    for (const g of await branchGateways(store.db, b)) {
      if (g.type === 'cash') continue
      const row = breakers.find((x) => x.branch_id === b.id && x.gateway === g.type)
      const state = row
        ? {
            state: row.state as BreakerView['breaker'],
            consecutiveFaults: row.consecutive_faults,
            changedAtMs: Number(row.changed_at_ms),
          }
        : closedBreaker()
      const a = admit(state, nowMs, breakerSettings(g))
      out.push({
        branch: b.code,
        gateway: g.type,
        enabled: g.row.enabled === 1,
        source: g.source,
        breaker: state.state,
        consecutiveFaults: state.consecutiveFaults,
        retryAt: a.allowed ? null : new Date(a.retryAtMs).toISOString(),
      })
    }
  }
  return out
}

/** `dsh gateway test`: checks the credentials against the configured endpoint. */
export async function gatewayTest(
  ctx: Ctx,
  typeIn: string,
  branchCode: string,
): Promise<CredentialCheck & { branch: string; gateway: string; nothingToTest?: boolean }> {
  const type = parseGatewayType(typeIn)
  const store = await ctx.store()
  const branch = await requireBranch(store.db, parseSlug(branchCode, 'branch code'))
  // Cash has no gateway and no credentials: there is nothing to test, and that is not a fault.
  if (type === 'cash')
    return {
      branch: branch.code,
      gateway: type,
      ok: true,
      nothingToTest: true,
      message: 'nothing to test: cash payments are recorded without a gateway',
    }
  const gw = (await branchGateways(store.db, branch)).find((g) => g.type === type)
  if (!gw)
    throw new DshError(
      'not_found',
      'gateway_not_configured',
      `branch ${branch.code} has no ${type} configuration`,
      { hint: `set one up with \`dsh gateway setup ${type} --branch ${branch.code}\`` },
    )
  const check = await (await adapterFor(ctx, gw)).testCredentials()
  const result = { branch: branch.code, gateway: type, ...check }
  if (!check.ok && check.problem === 'rejected') {
    throw Object.assign(
      configError(
        'credentials_rejected',
        `${type} rejected the credentials of ${branch.code}: ${check.message}`,
        `fix them with \`dsh gateway setup ${type} --branch ${branch.code} …\``,
      ),
      { result },
    )
  }
  if (!check.ok) {
    throw Object.assign(
      new DshError(
        'unavailable',
        'gateway_unreachable',
        `${type} could not be reached for ${branch.code}: ${check.message}`,
        { hint: `check --base-url (${gw.settings['baseUrl'] ?? 'default'}) and the network` },
      ),
      { result },
    )
  }
  return result
}
