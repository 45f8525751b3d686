import { readFileSync } from 'node:fs'
import type { ServerResponse } from 'node:http'
import { authenticate, type Principal, type Role } from '../access/tokens.js'
import { withActor } from '../context.js'
import { validationError } from '../core/errors.js'
import {
  endSession,
  SESSION_COOKIE,
  SESSION_MS,
  sessionPrincipal,
  startSession,
} from '../dashboard/sessions.js'
import { gatewayStatus } from '../gateway-config/health.js'
import { branchReport } from '../reports/report.js'
import { listSettlementBatches } from '../settlement/batches.js'
import { type BranchWithTenant, findBranchByCode, listBranches } from '../tenants/branches.js'
import type { DaemonContext } from './context.js'
import { header, parseJsonBody, type Req, readBody, sendJson } from './http.js'
import { HttpError } from './http-errors.js'
import type { Route } from './router.js'
import { followEvents } from './sse.js'

/**
 * The branch dashboard: one HTML page, one ES module and one stylesheet of our own (read from
 * src/dashboard/assets once at start), a session cookie exchanged for an API token, and the JSON
 * and event routes the page reads. Every response of these routes carries the strict headers.
 */

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
}

const strict = (res: ServerResponse) => {
  for (const [k, v] of Object.entries(PAGE_HEADERS)) res.setHeader(k, v)
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 }

const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
}

/**
 * The assets next to this module (under tsx) or in the package's src/: three levels up from
 * dist/src/daemon/ (tsc's output) and from dist/bundle/chunks/ (the bundle; bin/bundle.mjs
 * fails the build if that stops being true).
 */
function loadAssets(): Map<string, Buffer> {
  const dirs = [
    new URL('../dashboard/assets/', import.meta.url),
    new URL('../../../src/dashboard/assets/', import.meta.url),
  ]
  for (const dir of dirs) {
    try {
      return new Map(Object.keys(ASSETS).map((n) => [n, readFileSync(new URL(n, dir))]))
    } catch {
      // try the next location
    }
  }
  throw new Error('the dashboard assets (src/dashboard/assets) are missing')
}

export function parseCookies(raw: string | undefined): Map<string, string> {
  const out = new Map<string, string>()
  for (const part of (raw ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim())
  }
  return out
}

/**
 * Failed sign-ins counted per client address and per token prefix (the 8 characters `dsh token
 * list` shows): after FREE failures of either, each further attempt waits its turn, one per
 * PENALTY_MS; more than MAX_WAIT_MS of queue is refused with 429. A successful sign-in clears
 * only its own token's count, never the address's: one valid token every few tries must not buy
 * an address a fresh allowance of guesses. A count is forgotten FORGET_MS after its last failure.
 */
export class SignInThrottle {
  static FREE = 5
  static PENALTY_MS = 1_000
  static MAX_WAIT_MS = 10_000
  static FORGET_MS = 15 * 60_000
  private entries = new Map<string, { fails: number; next: number; last: number }>()

  constructor(
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((r) => setTimeout(r, ms)),
  ) {}

  /** The token prefix a sign-in counts against (any text: a guess need not look like a token). */
  static prefixOf(token: unknown): string {
    return typeof token === 'string' ? token.slice(0, 8) : ''
  }

  private live(key: string, now: number) {
    const e = this.entries.get(key)
    if (e && now - e.last > SignInThrottle.FORGET_MS) {
      this.entries.delete(key)
      return undefined
    }
    return e
  }

  /** Waits the turn of this address and this token prefix; false when either queued too much. */
  async turn(addr: string, prefix: string): Promise<boolean> {
    const now = this.now()
    const limited = [`a:${addr}`, `t:${prefix}`]
      .map((k) => this.live(k, now))
      .filter((e) => e !== undefined && e.fails >= SignInThrottle.FREE) as {
      fails: number
      next: number
    }[]
    if (limited.length === 0) return true
    const at = Math.max(now, ...limited.map((e) => e.next))
    if (at - now > SignInThrottle.MAX_WAIT_MS) return false
    for (const e of limited) e.next = at + SignInThrottle.PENALTY_MS
    if (at > now) await this.sleep(at - now)
    return true
  }

  failed(addr: string, prefix: string): void {
    const now = this.now()
    for (const key of [`a:${addr}`, `t:${prefix}`]) {
      if (this.entries.size >= 10_000 && !this.entries.has(key)) this.entries.clear()
      const e = this.live(key, now) ?? { fails: 0, next: now, last: now }
      e.fails++
      e.last = now
      this.entries.set(key, e)
    }
  }

  /** A sign-in with this token worked: its prefix's count is cleared (the address's stays). */
  succeeded(prefix: string): void {
    this.entries.delete(`t:${prefix}`)
  }
}

const DAY = /^\d{4}-\d{2}-\d{2}$/
const CODE = /^[a-z][a-z0-9-]{0,39}$/

export function dashboardRoutes(ctx: DaemonContext): Route[] {
  const assets = loadAssets()
  const throttle = new SignInThrottle()
  const warn = (m: string) => ctx.log.warn('dashboard.warning', { detail: m })
  const unauthorized = () =>
    new HttpError(401, 'unauthorized', 'sign in: a session or a bearer token is required')

  async function secure(): Promise<boolean> {
    const url = ctx.options.publicUrl ?? (await ctx.lookups.publicUrl())
    return url?.startsWith('https://') ?? false
  }

  const sessionOf = (req: Req) => parseCookies(header(req.raw, 'cookie')).get(SESSION_COOKIE)

  /** Answers 204 setting the session cookie to `value` for `maxAge` seconds (0 ends it). */
  async function setSessionCookie(res: ServerResponse, value: string, maxAge: number) {
    const attrs = [
      `${SESSION_COOKIE}=${value}`,
      'Path=/',
      'HttpOnly',
      'SameSite=Strict',
      `Max-Age=${maxAge}`,
      ...((await secure()) ? ['Secure'] : []),
    ]
    res.writeHead(204, { 'set-cookie': attrs.join('; ') })
    res.end()
  }

  /** The session's principal (the page), or the bearer token's (scripts, on the report route). */
  async function principal(req: Req, opts: { bearer: boolean }): Promise<Principal> {
    const m = /^Bearer\s+(\S+)$/i.exec(header(req.raw, 'authorization') ?? '')
    const p =
      opts.bearer && m
        ? await authenticate(ctx.store.db, m[1])
        : await sessionPrincipal(ctx.app, sessionOf(req))
    if (!p) throw unauthorized()
    if (RANK[p.role] < RANK.viewer) throw new HttpError(403, 'forbidden', 'a viewer role is needed')
    return p
  }

  /** A branch the principal may see; another tenant's branch is as unknown as a missing one. */
  async function branch(p: Principal, code: string): Promise<BranchWithTenant> {
    const b = CODE.test(code) ? await findBranchByCode(ctx.store.db, code) : undefined
    if (!b || (p.tenantId !== null && b.tenant_id !== p.tenantId))
      throw new HttpError(404, 'branch_not_found', `no branch "${code}"`)
    return b
  }

  /** A branch route's branch (`:id`) and the context acting as its caller. */
  async function branchRoute(req: Req, res: ServerResponse, opts: { bearer: boolean }) {
    strict(res)
    const p = await principal(req, opts)
    const b = await branch(p, req.params['id'] ?? '')
    return { b, app: withActor(ctx.app, p.name, { warn }) }
  }

  /** A state-changing request must come from the page itself (SameSite covers browsers; this too). */
  async function sameOrigin(req: Req): Promise<void> {
    const origin = header(req.raw, 'origin')
    if (origin === undefined) return
    let url: URL | undefined
    try {
      url = new URL(origin)
    } catch {
      url = undefined
    }
    // Behind a reverse proxy the Host may be rewritten: the public URL's origin counts too.
    const pub = ctx.options.publicUrl ?? (await ctx.lookups.publicUrl())
    let pubOrigin: string | undefined
    try {
      pubOrigin = pub ? new URL(pub).origin : undefined
    } catch {
      pubOrigin = undefined
    }
    if (!url || (url.host !== header(req.raw, 'host') && url.origin !== pubOrigin))
      throw new HttpError(403, 'cross_origin', 'this request must come from the dashboard itself')
  }

  const asset = (name: string): Route => ({
    method: 'GET',
    pattern: name === 'index.html' ? '/dashboard' : `/dashboard/assets/${name}`,
    async handler(_req, res) {
      strict(res)
      const body = assets.get(name)!
      res.writeHead(200, { 'content-type': ASSETS[name]!, 'content-length': body.length })
      res.end(body)
    },
  })

  return [
    ...Object.keys(ASSETS).map(asset),
    {
      // Browsers ask for it on their own: an empty answer, with the page's headers.
      method: 'GET',
      pattern: '/favicon.ico',
      async handler(_req, res) {
        strict(res)
        res.writeHead(204)
        res.end()
      },
    },
    {
      method: 'POST',
      pattern: '/dashboard/session',
      async handler(req, res) {
        strict(res)
        await sameOrigin(req)
        const addr = req.remote ?? 'unknown'
        const raw = await readBody(req.raw, 4096)
        const type = header(req.raw, 'content-type') ?? ''
        let token: unknown
        if (type.startsWith('application/x-www-form-urlencoded'))
          token = new URLSearchParams(raw).get('token') ?? undefined
        else {
          const body = parseJsonBody(raw)
          token =
            typeof body === 'object' && body !== null
              ? (body as Record<string, unknown>)['token']
              : undefined
        }
        const prefix = SignInThrottle.prefixOf(token)
        if (!(await throttle.turn(addr, prefix)))
          throw new HttpError(429, 'too_many_attempts', 'too many failed sign-ins: wait a minute', {
            'retry-after': '60',
          })
        const s = await startSession(ctx.app, typeof token === 'string' ? token : undefined)
        if (!s) {
          throttle.failed(addr, prefix)
          ctx.log.warn('dashboard.signin_failed', { remote: addr })
          throw new HttpError(401, 'unauthorized', 'that token is not a live API token')
        }
        throttle.succeeded(prefix)
        ctx.log.info('dashboard.signed_in', { token: s.principal.name })
        await setSessionCookie(res, s.value, SESSION_MS / 1000)
      },
    },
    {
      method: 'POST',
      pattern: '/dashboard/logout',
      async handler(req, res) {
        strict(res)
        await sameOrigin(req)
        await endSession(ctx.app, sessionOf(req))
        await setSessionCookie(res, '', 0)
      },
    },
    {
      method: 'GET',
      pattern: '/dashboard/branches',
      async handler(req, res) {
        strict(res)
        const p = await principal(req, { bearer: false })
        const rows = await listBranches(ctx.store.db, p.tenantId ? { tenantId: p.tenantId } : {})
        sendJson(res, 200, {
          signedInAs: p.name,
          tenant: p.tenantSlug,
          branches: rows
            .map((b) => ({
              code: b.code,
              name: b.name,
              tenant: b.tenant_slug,
              currency: b.currency,
              timezone: b.timezone,
            }))
            .sort((a, b) => a.tenant.localeCompare(b.tenant) || a.code.localeCompare(b.code)),
        })
      },
    },
    {
      method: 'GET',
      pattern: '/dashboard/branches/:id/status',
      async handler(req, res) {
        const { b, app } = await branchRoute(req, res, { bearer: false })
        sendJson(res, 200, {
          branch: b.code,
          gateways: await gatewayStatus(app, b.code),
          settlements: (await listSettlementBatches(app, b)).slice(0, 5),
        })
      },
    },
    {
      method: 'GET',
      pattern: '/api/branches/:id/report',
      async handler(req, res) {
        const { b, app } = await branchRoute(req, res, { bearer: true })
        const date = req.query.get('date') ?? undefined
        if (date !== undefined && !DAY.test(date))
          throw validationError('invalid_date', 'date must be a day as YYYY-MM-DD')
        sendJson(res, 200, await branchReport(app, { branch: b.code, date }))
      },
    },
    {
      method: 'GET',
      pattern: '/dashboard/events',
      async handler(req, res) {
        strict(res)
        const value = sessionOf(req)
        const p = await principal(req, { bearer: false })
        const code = req.query.get('branch')
        const b = code ? await branch(p, code) : undefined
        // The hub re-checks the session twice a second: a revoked token, a logout or the
        // session's end closes the stream (`event: end`), and the page shows "signed out".
        await followEvents(ctx.hub, req, res, p, b, async () => {
          const now = await sessionPrincipal(ctx.app, value)
          return Boolean(now && now.id === p.id && now.tenantId === p.tenantId)
        })
      },
    },
  ]
}
