import type { Ctx } from '../context.js'
import type { RouteDecision } from '../core/payments/routing.js'
import { parsePayRequest } from '../payments/pay-input.js'
import { requireBranch } from '../tenants/branches.js'
import { decideRoute, excludeUnsendable } from './rules.js'

/** The routing decision for a payment, exactly as `pay` would make it, without paying. */
export async function explainRoute(
  ctx: Ctx,
  f: { branch: string; amount: string; currency: string; method: string; customerType: string },
): Promise<RouteDecision & { branch: string }> {
  // A placeholder phone only satisfies the M-Pesa input check; routing never looks at it.
  const req = parsePayRequest({ ...f, phone: f.method === 'mpesa' ? '0700000000' : undefined })
  const store = await ctx.store()
  const branch = await requireBranch(store.db, req.branch)
  const { decision } = await decideRoute(store.db, branch, req)
  excludeUnsendable(decision, req.amountMinor, req.currency)
  return { branch: branch.code, ...decision }
}
