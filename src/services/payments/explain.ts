import type { App } from '../../app.js'
import type { RouteDecision } from '../../core/payments/routing.js'
import { requireBranch } from '../branches.js'
import { checkAmount } from './adapters.js'
import { parsePayRequest } from './pay-input.js'
import { decideRoute } from './routing.js'

/** The routing decision for a payment, exactly as `pay` would make it, without paying. */
export async function explainRoute(
  app: App,
  f: { branch: string; amount: string; currency: string; method: string; customerType: string },
): Promise<RouteDecision & { branch: string }> {
  // A placeholder phone only satisfies the M-Pesa input check; routing never looks at it.
  const req = parsePayRequest({ ...f, phone: f.method === 'mpesa' ? '0700000000' : undefined })
  const store = await app.store()
  const branch = await requireBranch(store.db, req.branch)
  const { decision } = await decideRoute(store.db, branch, req)
  for (const c of decision.candidates) {
    if (!c.eligible) continue
    try {
      checkAmount(c.gateway, req.amountMinor, req.currency)
    } catch (err) {
      Object.assign(c, { eligible: false, reason: (err as Error).message })
    }
  }
  decision.order = decision.candidates.filter((c) => c.eligible).map((c) => c.gateway)
  return { branch: branch.code, ...decision }
}
