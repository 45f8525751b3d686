import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { configError } from '../core/errors.js'
import { storedSecretsHealth } from '../gateway-config/secrets-health.js'
import { pingStore } from '../payments/events.js'
import { storeGauges } from '../reports/gauges.js'
import { clientAddress } from './client-address.js'
import type { DaemonContext } from './context.js'
import { header, type Req, sendJson, sendText } from './http.js'
import { errorReply, HttpError } from './http-errors.js'
import { redactLine } from './log.js'
import { createRouter, type Route } from './router.js'

export interface DaemonServer {
  listen(): Promise<{ url: string; port: number }>
  /** Stops accepting, lets requests in flight finish (up to the timeout), then closes. */
  close(timeoutMs: number): Promise<void>
  inflight(): number
  /**
   * Requests are queueing: at least `BUSY_INFLIGHT` in flight at once within the last 100 ms (a
   * flood of callbacks, not a steady stream: that is answered one or two at a time).
   */
  busy(): boolean
}

/** Requests in flight at once from which the daemon counts as busy (processing takes turns). */
export const BUSY_INFLIGHT = 8

/** At most ~200 characters of anything a client sent, in a message or a log line. */
export const clip = (s: string, max = 200): string =>
  s.length <= max ? s : `${s.slice(0, max)}… (${s.length} characters)`

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** GET /healthz and GET /metrics. */
export function opsRoutes(ctx: DaemonContext): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/healthz',
      async handler(_req, res) {
        let store = 'ok'
        try {
          await Promise.race([
            pingStore(ctx.store.db),
            sleep(2_000).then(() => {
              throw new Error('no answer within 2 s')
            }),
          ])
        } catch (err) {
          store = `unreachable: ${(err as Error).message}`
        }
        const secrets = store === 'ok' ? await storedSecretsHealth(ctx.app) : 'unknown'
        const jobs = ctx.jobs?.alive() ?? {}
        const workerAgeMs = Date.now() - ctx.worker.lastLoopAt()
        const inboxWorker =
          workerAgeMs < 15_000 ? 'ok' : `stalled ${Math.round(workerAgeMs / 1000)} s`
        const ok =
          store === 'ok' &&
          secrets === 'ok' &&
          inboxWorker === 'ok' &&
          Object.values(jobs).every(Boolean)
        sendJson(res, ok ? 200 : 503, {
          status: ok ? 'ok' : 'degraded',
          daemon: ctx.instanceId,
          store,
          secrets,
          dialect: ctx.store.dialect,
          jobs: Object.fromEntries(Object.entries(jobs).map(([k, v]) => [k, v ? 'ok' : 'late'])),
          inboxWorker,
          streams: ctx.hub.size(),
        })
      },
    },
    {
      method: 'GET',
      pattern: '/metrics',
      async handler(_req, res) {
        const g = await storeGauges(ctx.app)
        sendText(
          res,
          200,
          ctx.metrics.render(g, { jobsAlive: ctx.jobs?.alive() ?? {}, inflight: ctx.inflight() }),
          'text/plain; version=0.0.4; charset=utf-8',
        )
      },
    },
  ]
}

export function createDaemonServer(ctx: DaemonContext, routes: readonly Route[]): DaemonServer {
  const match = createRouter(routes)
  let inflight = 0
  let peak = 0
  let peakAt = 0
  let idle: (() => void)[] = []
  const { log, metrics, options } = ctx

  async function handle(raw: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now()
    inflight++
    const now = performance.now()
    if (inflight >= peak || now - peakAt > 100) {
      peak = inflight
      peakAt = now
    }
    const method = raw.method ?? 'GET'
    const url = raw.url ?? '/'
    const q = url.indexOf('?')
    const path = q < 0 ? url : url.slice(0, q)
    const m = match(method, path)
    const route = m.kind === 'found' ? m.route.pattern : 'unmatched'
    // Nothing the daemon answers (API data, errors, events, health) belongs in a cache: a shared
    // proxy or the browser would keep one tenant's payments for the next caller to read.
    res.setHeader('cache-control', 'no-store')
    try {
      if (m.kind === 'none')
        throw new HttpError(404, 'not_found', `no route for ${method} ${clip(path)}`)
      if (m.kind === 'method')
        throw new HttpError(
          405,
          'method_not_allowed',
          `${clip(path)} takes ${m.allowed.join(', ')}`,
          {
            allow: m.allowed.join(', '),
          },
        )
      const req: Req = {
        raw,
        method,
        path,
        query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
        params: m.params,
        remote: clientAddress(
          raw.socket.remoteAddress,
          options.trustProxy ? header(raw, 'x-forwarded-for') : undefined,
          options.trustedProxies,
        ),
      }
      await m.route.handler(req, res)
    } catch (err) {
      const r = errorReply(err)
      if (r.status >= 500)
        log.error('request.failed', {
          method,
          route,
          error: err instanceof Error ? err.message : String(err),
          ...(err instanceof Error && r.body.error.code === 'internal_error'
            ? { stack: err.stack }
            : {}),
        })
      if (!res.headersSent) sendJson(res, r.status, r.body, r.headers)
      else res.destroy()
    } finally {
      inflight--
      const seconds = (performance.now() - started) / 1000
      metrics.observe(route, method, res.statusCode, seconds)
      // Acknowledged callbacks are logged when processed; their request lines are debug.
      const level =
        res.statusCode < 400 && (route.startsWith('/callbacks/') || route.startsWith('/webhooks/'))
          ? 'debug'
          : 'info'
      if (log.enabled(level))
        log[level]('request', {
          method,
          path: clip(redactLine(path)),
          route,
          status: res.statusCode,
          ms: Math.round(seconds * 10_000) / 10,
        })
      if (inflight === 0) for (const f of idle.splice(0)) f()
    }
  }

  // Node checks the header and request timeouts only every `connectionsCheckingInterval`
  // (30 s by default: a 10 s limit then bit at 10 to 40 s); once a second keeps them as documented.
  const server = createServer({ connectionsCheckingInterval: 1_000 }, (req, res) => {
    void handle(req, res)
  })
  server.headersTimeout = options.headersTimeoutMs
  server.requestTimeout = options.requestTimeoutMs
  server.keepAliveTimeout = 5_000

  return {
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) => {
          reject(
            err.code === 'EADDRINUSE'
              ? configError(
                  'port_in_use',
                  `${options.host}:${options.port} is already in use`,
                  'stop what listens there, or pick another --port',
                )
              : err.code === 'EADDRNOTAVAIL' || err.code === 'EACCES'
                ? configError(
                    'cannot_listen',
                    `cannot listen on ${options.host}:${options.port}: ${err.message}`,
                  )
                : err,
          )
        })
        server.listen(options.port, options.host, () => {
          const port = (server.address() as AddressInfo).port
          const host = options.host.includes(':') ? `[${options.host}]` : options.host
          resolve({ url: `http://${host}:${port}`, port })
        })
      })
    },
    async close(timeoutMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      if (inflight > 0)
        await Promise.race([new Promise<void>((r) => idle.push(r)), sleep(timeoutMs)])
      idle = []
      server.closeAllConnections()
      await closed
    },
    inflight: () => inflight,
    busy: () =>
      inflight >= BUSY_INFLIGHT || (peak >= BUSY_INFLIGHT && performance.now() - peakAt < 100),
  }
}
