import { createHash } from 'node:crypto'
import type { Clock } from '../core/ports.js'

export interface FetchedToken {
  token: string
  /** Lifetime the gateway announced, in seconds (Daraja: 3599, as a number or a string). */
  expiresInS: number
}

/**
 * One OAuth token per (base URL, consumer key), shared by every branch that uses that key.
 * Daraja's FAQ says a new token may invalidate the previous one (GATEWAYS.md §1.1), so there is
 * exactly one fetch in flight per key and nobody fetches while a good token is cached.
 */
export interface TokenCache {
  /**
   * A valid token, fetching one when none is cached or the cached one is about to expire;
   * `force` fetches a new one anyway (credential checks), which then replaces the cached one.
   */
  get(
    baseUrl: string,
    consumerKey: string,
    fetch: () => Promise<FetchedToken>,
    options?: { force?: boolean },
  ): Promise<string>
  /** Forgets `token` (after a 404.001.03) unless a newer one has already replaced it. */
  invalidate(baseUrl: string, consumerKey: string, token: string): void
  clear(): void
}

interface Entry {
  token: string
  expiresAtMs: number
}

/** @param refreshMarginMs refresh this long before the announced expiry (default 60 s). */
export function createTokenCache(clock: Clock, refreshMarginMs = 60_000): TokenCache {
  const tokens = new Map<string, Entry>()
  const inFlight = new Map<string, Promise<string>>()
  // The map key is a digest, so no consumer key sits in memory dumps next to its token.
  const keyOf = (baseUrl: string, consumerKey: string) =>
    createHash('sha256')
      .update(`${baseUrl.replace(/\/+$/, '')}\n${consumerKey}`)
      .digest('hex')
  return {
    get(baseUrl, consumerKey, fetch, options) {
      const key = keyOf(baseUrl, consumerKey)
      const cached = options?.force ? undefined : tokens.get(key)
      if (cached && clock.now().getTime() < cached.expiresAtMs - refreshMarginMs)
        return Promise.resolve(cached.token)
      const running = inFlight.get(key)
      if (running) return running
      const p = (async () => {
        try {
          const t = await fetch()
          tokens.set(key, {
            token: t.token,
            expiresAtMs: clock.now().getTime() + t.expiresInS * 1000,
          })
          return t.token
        } finally {
          inFlight.delete(key)
        }
      })()
      inFlight.set(key, p)
      return p
    },
    invalidate(baseUrl, consumerKey, token) {
      const key = keyOf(baseUrl, consumerKey)
      if (tokens.get(key)?.token === token) tokens.delete(key)
    },
    clear() {
      tokens.clear()
    },
  }
}
