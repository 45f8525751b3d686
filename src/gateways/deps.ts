import type { Clock } from '../core/ports.js'
import type { HttpClient } from './http.js'
import type { TokenCache } from './token-cache.js'

/** What every adapter needs from outside; one set per process, shared by every branch. */
export interface GatewayDeps {
  http: HttpClient
  tokens: TokenCache
  clock: Clock
}
