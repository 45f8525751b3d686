import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { validationError } from '../core/errors.js'
import { bankRoutes } from './bank.js'
import { checkRule, controlRoutes } from './control.js'
import { createDarajaSim } from './daraja.js'
import {
  isLoopbackHost,
  type JsonReply,
  json,
  type Route,
  type SimReply,
  type SimRequest,
  type TextReply,
} from './http-kit.js'
import { kcbRoutes } from './kcb.js'
import { squareRoutes } from './square.js'
import { SimState } from './state.js'
import { stripeRoutes } from './stripe.js'
import type {
  Charge,
  Delivery,
  FailedCharge,
  RequestRecord,
  ScriptRule,
  WebhookRegistration,
} from './types.js'

export { SANDBOX_PASSKEY, SANDBOX_SHORTCODE } from './daraja.js'
export { MAGIC_CARDS, MAGIC_PHONES, REFUSED_CREDENTIAL } from './magic.js'
export * from './statement.js'
export * from './types.js'

export interface SandboxOptions {
  /** Loopback only: 127.0.0.1 (default), ::1 or localhost. */
  host?: string
  /** 0 (default) picks a free port. */
  port?: number
  /** How long the simulated customer takes to act before the callback (default 300 ms). */
  callbackDelayMs?: number
  /** How much later a late callback comes (default 5 s). */
  lateCallbackMs?: number
  /** How long a slow answer is withheld (default 15 s: past any sane read timeout). */
  slowAnswerMs?: number
  /** One line per request (and per callback sent). */
  log?: (line: string) => void
  /**
   * The simulated gateways' clock (default: the real one): timestamps they check and stamp
   * (Daraja's Timestamp window, token expiry, receipts' times, the ledger, webhook signatures),
   * so a test can share one injected clock with dsh. Delays (callbacks, slow answers) stay real.
   */
  clock?: { now(): Date }
}

export interface Sandbox {
  /** http://127.0.0.1:<port>: the base URL of every simulated API. */
  url: string
  port: number
  close(): Promise<void>
  /** Every charge that really happened. */
  ledger(): Charge[]
  /** Every M-Pesa push refused on the customer's side (cancelled, insufficient funds, …). */
  failures(): FailedCharge[]
  /** Every callback / webhook POST made, with the receiver's status or the error. */
  deliveries(): Delivery[]
  /** Every request answered (method, path, status). */
  requests(): RequestRecord[]
  /**
   * Work still to come: callbacks and settlements scheduled, deliveries in flight, answers
   * withheld. 0 once nothing more will happen without a new request (tests wait for it).
   */
  pending(): number
  /** Queues an outcome for the next `count` charging requests of a gateway. */
  script(rule: ScriptRule): void
  /** Forgets everything (ledger, failures, deliveries, scripts, tokens, registrations). */
  reset(): void
  /** Expires every Daraja token issued so far. */
  expireTokens(): number
  registerWebhook(w: WebhookRegistration): void
  /** Registers the passkey a Daraja shortcode's Password must be built with. */
  registerPasskey(shortcode: string, passkey: string): void
}

const MAX_BODY = 1024 * 1024

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY) {
        reject(new Error('body too large'))
        req.destroy()
        return
      }
      chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

/**
 * Starts the loopback simulators of Daraja, KCB/Zed, Stripe, Square and our bank API on one
 * node:http server. Memory only; nothing is stored.
 *
 * @example const sb = await startSandbox({ port: 0, callbackDelayMs: 50 }); …; await sb.close()
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const host = options.host ?? '127.0.0.1'
  if (!isLoopbackHost(host))
    throw validationError(
      'sandbox_not_loopback',
      `the sandbox binds loopback only, not ${host}`,
      'use --host 127.0.0.1 (or ::1)',
    )
  const state = new SimState(
    {
      callbackDelayMs: options.callbackDelayMs ?? 300,
      lateCallbackMs: options.lateCallbackMs ?? 5_000,
      slowAnswerMs: options.slowAnswerMs ?? 15_000,
    },
    options.log,
    options.clock ? () => (options.clock as { now(): Date }).now().getTime() : Date.now,
  )
  const daraja = createDarajaSim(state)
  /** Answers being withheld (slow_success): survive a reset, destroyed on close. */
  const withheld = new Map<ServerResponse, NodeJS.Timeout>()

  const api: Sandbox = {
    url: '',
    port: 0,
    close: async () => {},
    ledger: () => state.ledger.map((c) => ({ ...c })),
    failures: () => state.failures.map((c) => ({ ...c })),
    deliveries: () => state.deliveries.map((d) => ({ ...d })),
    requests: () => state.requests.map((r) => ({ ...r })),
    pending: () => state.scheduled + withheld.size,
    script(rule) {
      const why = checkRule(rule)
      if (why) throw validationError('invalid_script', why)
      state.script(rule.gateway, rule.outcome, rule.count ?? 1)
    },
    reset: () => state.reset(),
    expireTokens: () => daraja.expireTokens(),
    registerWebhook(w) {
      if (!['stripe', 'square', 'bank'].includes(w.gateway))
        throw validationError('invalid_webhook', 'gateway must be stripe, square or bank')
      state.registerWebhook(w)
    },
    registerPasskey: (shortcode, passkey) => daraja.registerPasskey(shortcode, passkey),
  }

  const control = controlRoutes(state, api, daraja)
  const routes: Route[] = [
    ...control,
    ...daraja.routes,
    ...kcbRoutes(state),
    ...stripeRoutes(state),
    ...squareRoutes(state),
    ...bankRoutes(state),
  ]

  function record(
    req: IncomingMessage,
    path: string,
    status: RequestRecord['status'],
    started: number,
  ) {
    state.requests.push({ method: req.method ?? '?', path, status, at: state.nowIso() })
    options.log?.(
      `${req.method} ${path} → ${status} (${Math.round(performance.now() - started)} ms)`,
    )
  }

  /** The status line, headers and body of a plain reply. */
  function wire(reply: JsonReply | TextReply) {
    const body = reply.kind === 'json' ? JSON.stringify(reply.body) : reply.body
    const headers: Record<string, string | number> =
      reply.kind === 'json'
        ? { 'content-type': 'application/json', ...reply.headers }
        : { 'content-type': reply.contentType }
    return { body, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }
  }

  function send(res: ServerResponse, reply: JsonReply | TextReply): number {
    const { body, headers } = wire(reply)
    res.writeHead(reply.status, headers)
    res.end(body)
    return reply.status
  }

  /**
   * The headers (announcing the whole body) and half the body, then the socket is destroyed: the
   * client has a status and no answer it can read.
   */
  function cut(res: ServerResponse, reply: JsonReply | TextReply): void {
    const { body, headers } = wire(reply)
    res.writeHead(reply.status, headers)
    res.flushHeaders()
    res.write(body.slice(0, Math.floor(body.length / 2)), () => res.socket?.destroy())
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now()
    const url = new URL(req.url ?? '/', 'http://sandbox')
    const path = url.pathname
    let raw: string
    try {
      raw = await readBody(req)
    } catch {
      return
    }
    let reply: SimReply = json(404, { error: `no sandbox route for ${req.method} ${path}` })
    const sameMethod = routes.filter((r) => r.method === req.method)
    for (const r of sameMethod) {
      const m = r.pattern.exec(path)
      if (!m) continue
      const simReq: SimRequest = {
        method: req.method ?? 'GET',
        path,
        query: url.searchParams,
        headers: req.headers,
        raw,
        params: m.slice(1),
      }
      try {
        reply = await r.handler(simReq)
      } catch (e) {
        reply = json(500, { error: `sandbox bug: ${(e as Error).message}` })
      }
      break
    }
    if (
      reply.kind === 'json' &&
      reply.status === 404 &&
      !sameMethod.some((r) => r.pattern.test(path)) &&
      routes.some((r) => r.pattern.test(path))
    )
      reply = json(405, { requestId: '', errorCode: '405.001', errorMessage: 'Method Not Allowed' })
    if (reply.kind === 'reset') {
      record(req, path, 'reset', started)
      req.socket.destroy()
      return
    }
    if (reply.kind === 'lost') {
      const { wire: shown, reply: answer } = reply
      if (shown === 'reset') {
        record(req, path, 'reset', started)
        req.socket.destroy()
      } else if (shown === 'cut') {
        record(req, path, 'reset_after_headers', started)
        cut(res, answer)
      } else record(req, path, send(res, shown), started)
      return
    }
    if (reply.kind === 'withhold') {
      const inner = reply.reply
      if (inner.kind === 'reset' || inner.kind === 'withhold' || inner.kind === 'lost') return
      record(req, path, 'withheld', started)
      const timer = setTimeout(() => {
        withheld.delete(res)
        if (!res.destroyed) send(res, inner)
      }, reply.ms)
      withheld.set(res, timer)
      res.on('close', () => {
        clearTimeout(timer)
        withheld.delete(res)
      })
      return
    }
    record(req, path, send(res, reply), started)
  }

  const server = createServer((req, res) => {
    void handle(req, res)
  })
  // Longer than the clients' keep-alive, so the client always closes an idle socket first.
  server.keepAliveTimeout = 65_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  api.port = port
  api.url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  let closing: Promise<void> | undefined
  api.close = () => {
    closing ??= new Promise<void>((resolve) => {
      state.close()
      for (const [res, timer] of withheld) {
        clearTimeout(timer)
        res.destroy()
      }
      withheld.clear()
      server.close(() => resolve())
      server.closeAllConnections()
    })
    return closing
  }
  return api
}
