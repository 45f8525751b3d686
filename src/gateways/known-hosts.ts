import type { GatewayType } from '../core/gateways/types.js'

/**
 * The hosts each gateway's API is served from (sandbox and production). A production base URL
 * must be https on one of these, unless `dsh gateway setup` is given `--custom-base-url` (a
 * proxy or a regional endpoint the operator vouches for): secrets are sent to this host.
 */
export const KNOWN_HOSTS: Readonly<Record<Exclude<GatewayType, 'cash'>, readonly string[]>> = {
  mpesa: ['api.safaricom.co.ke', 'sandbox.safaricom.co.ke'],
  'mpesa-kcb': ['api.prod.zed.business', 'api.dev.zed.business'],
  stripe: ['api.stripe.com'],
  square: ['connect.squareup.com', 'connect.squareupsandbox.com'],
}

export function isKnownHost(type: GatewayType, url: string): boolean {
  if (type === 'cash') return false
  let host: string
  try {
    host = new URL(url).hostname.toLowerCase()
  } catch {
    return false
  }
  return KNOWN_HOSTS[type].includes(host)
}
