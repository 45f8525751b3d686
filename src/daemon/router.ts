import type { ServerResponse } from 'node:http'
import type { Req } from './http.js'

export interface Route {
  method: string
  /** `/callbacks/mpesa/:token`: literal segments and `:name` parameters. */
  pattern: string
  handler(req: Req, res: ServerResponse): Promise<void>
}

export type Match =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  | { kind: 'method'; allowed: string[] }
  | { kind: 'none' }

interface Compiled {
  route: Route
  parts: string[]
}

/** Matches a path against the routes: a route, a 405 with the allowed methods, or nothing. */
export function createRouter(routes: readonly Route[]): (method: string, path: string) => Match {
  const compiled: Compiled[] = routes.map((route) => ({
    route,
    parts: route.pattern.split('/').slice(1),
  }))
  return (method, path) => {
    const segs = path.split('/').slice(1)
    const allowed: string[] = []
    for (const c of compiled) {
      if (c.parts.length !== segs.length) continue
      const params: Record<string, string> = {}
      let ok = true
      for (let i = 0; i < segs.length; i++) {
        const p = c.parts[i]!
        const s = segs[i]!
        if (p.startsWith(':')) {
          if (!s) {
            ok = false
            break
          }
          try {
            params[p.slice(1)] = decodeURIComponent(s)
          } catch {
            ok = false
            break
          }
        } else if (p !== s) {
          ok = false
          break
        }
      }
      if (!ok) continue
      if (c.route.method === method || (method === 'HEAD' && c.route.method === 'GET'))
        return { kind: 'found', route: c.route, params }
      allowed.push(c.route.method)
    }
    return allowed.length > 0 ? { kind: 'method', allowed } : { kind: 'none' }
  }
}
