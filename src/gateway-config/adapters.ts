import type { Ctx } from '../context.js'
import type { GatewayType } from '../core/gateways/types.js'
import type { GatewayAdapter } from '../core/payments/gateway-port.js'
import { mpesaWholeShillings, toSquareAmount, toStripeAmount } from '../gateways/amounts.js'
import { createHttpClient, type HttpClient } from '../gateways/http.js'
import { createAdapter } from '../gateways/index.js'
import { createTokenCache, type TokenCache } from '../gateways/token-cache.js'
import { unseal } from '../vault/vault.js'
import type { BranchGateway } from './in-force.js'
import { parseJsonObject, secretContext } from './view.js'

interface Shared {
  clients: Map<number, HttpClient>
  tokens: TokenCache
  adapters: Map<string, GatewayAdapter>
}

const perApp = new WeakMap<Ctx, Shared>()

function shared(ctx: Ctx): Shared {
  let s = perApp.get(ctx)
  if (!s) {
    const created: Shared = {
      clients: new Map(),
      tokens: createTokenCache(ctx.clock),
      adapters: new Map(),
    }
    ctx.onClose(async () => {
      for (const c of created.clients.values()) await c.close()
    })
    perApp.set(ctx, created)
    s = created
  }
  return s
}

function clientFor(ctx: Ctx, readTimeoutMs: number): HttpClient {
  const s = shared(ctx)
  let c = s.clients.get(readTimeoutMs)
  if (!c) {
    const env = ctx.env
    const httpProxy = env['HTTP_PROXY'] ?? env['http_proxy']
    const httpsProxy = env['HTTPS_PROXY'] ?? env['https_proxy']
    const noProxy = env['NO_PROXY'] ?? env['no_proxy']
    c = createHttpClient({
      readTimeoutMs,
      ...(httpProxy || httpsProxy
        ? {
            proxy: {
              ...(httpProxy ? { httpProxy } : {}),
              ...(httpsProxy ? { httpsProxy } : {}),
              ...(noProxy ? { noProxy } : {}),
            },
          }
        : {}),
    })
    s.clients.set(readTimeoutMs, c)
  }
  return c
}

/**
 * The adapter for a branch's gateway configuration, with its secrets opened from the vault.
 * One per configuration version per process; HTTP pools and OAuth tokens are shared, so every
 * branch using one Daraja consumer key shares one token.
 */
export async function adapterFor(ctx: Ctx, gw: BranchGateway): Promise<GatewayAdapter> {
  const s = shared(ctx)
  const key = `${gw.row.id}@${gw.row.updated_at}`
  const cached = s.adapters.get(key)
  if (cached) return cached
  const secrets: Record<string, string> = {}
  for (const [field, envelope] of Object.entries(parseJsonObject(gw.row.secrets))) {
    secrets[field] = unseal(ctx, envelope, secretContext(gw.row.id, field))
  }
  const readTimeoutMs = Number(gw.settings['readTimeout'] ?? '30') * 1000
  const adapter = createAdapter(
    gw.type,
    { settings: gw.settings, secrets },
    { http: clientFor(ctx, readTimeoutMs), tokens: s.tokens, clock: ctx.clock },
  )
  s.adapters.set(key, adapter)
  return adapter
}

/** Refuses, before anything is recorded, an amount the gateway cannot be sent exactly. */
export function checkAmount(type: GatewayType, amountMinor: bigint, currency: string): void {
  if (type === 'mpesa') mpesaWholeShillings(amountMinor, currency)
  else if (type === 'mpesa-kcb') mpesaWholeShillings(amountMinor, currency, 'KCB M-Pesa')
  else if (type === 'stripe') toStripeAmount(amountMinor, currency)
  else if (type === 'square') toSquareAmount(amountMinor, currency)
}
