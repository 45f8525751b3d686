import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { type JsonReply, type SimReply, type TextReply, text } from './http-kit.js'
import type {
  Charge,
  Delivery,
  FailedCharge,
  Outcome,
  RequestRecord,
  SandboxGateway,
  WebhookGateway,
  WebhookRegistration,
} from './types.js'

/** What an API gateway in front answers when the backend is slow: no gateway envelope. */
export const GATEWAY_TIMEOUT_PAGE =
  "<html><body><h1>504 Gateway Time-out</h1>The server didn't respond in time.</body></html>"

/** What a proxy in front answers when the backend failed mid-call: HTML, never the gateway's body. */
export const SERVICE_UNAVAILABLE_PAGE =
  '<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body></html>'

export interface SimTimings {
  callbackDelayMs: number
  lateCallbackMs: number
  slowAnswerMs: number
}

/**
 * Everything the simulators remember, in memory only. `reset()` forgets it all (ledger,
 * deliveries, scripts, tokens, registrations) and cancels every pending callback.
 */
export class SimState {
  ledger: Charge[] = []
  /** M-Pesa pushes refused on the customer's side (no money moved). */
  failures: FailedCharge[] = []
  deliveries: Delivery[] = []
  requests: RequestRecord[] = []
  webhooks = new Map<WebhookGateway, WebhookRegistration>()
  /** Bank webhooks registered for one API key. */
  bankWebhooks = new Map<string, WebhookRegistration>()
  /** Per-simulator memory, created by each simulator and dropped on reset. */
  stores = new Map<string, unknown>()
  private scripts = new Map<SandboxGateway, { outcome: Outcome; remaining: number }[]>()
  private timers = new Set<NodeJS.Timeout>()
  private outgoing = new Set<{ destroy(): void }>()
  private closed = false

  constructor(
    readonly timings: SimTimings,
    readonly log: ((line: string) => void) | undefined,
    /** The simulated gateways' time (ms): the real clock, or a test's injected one. */
    readonly now: () => number = Date.now,
  ) {}

  /** The sandbox's time as an ISO string. */
  nowIso(): string {
    return new Date(this.now()).toISOString()
  }

  /** The simulator's own memory, created on first use. */
  store<T>(name: string, create: () => T): T {
    let s = this.stores.get(name) as T | undefined
    if (s === undefined) {
      s = create()
      this.stores.set(name, s)
    }
    return s
  }

  /**
   * The answer to a request that was processed (money moved, the callback will come): `reply`,
   * held back for the slow-answer delay (`slow_success`), or lost on the way back like behind a
   * failing proxy: a reset before or after its headers, a bare 5xx, an HTML error page.
   */
  answer(outcome: Outcome, reply: JsonReply): SimReply {
    const lost = (wire: 'reset' | 'cut' | TextReply): SimReply => ({ kind: 'lost', reply, wire })
    switch (outcome) {
      case 'slow_success':
        return { kind: 'withhold', ms: this.timings.slowAnswerMs, reply }
      case 'reset_after_charge':
        return lost('reset')
      case 'reset_after_headers':
        return lost('cut')
      case 'http_504_charged':
        return lost(text(504, GATEWAY_TIMEOUT_PAGE))
      case 'http_500_charged':
        return lost(text(500, '', 'text/plain'))
      case 'http_502_charged':
        return lost(text(502, '', 'text/plain'))
      case 'http_503_charged':
        return lost(text(503, SERVICE_UNAVAILABLE_PAGE))
      default:
        return reply
    }
  }

  script(gateway: SandboxGateway, outcome: Outcome, count: number): void {
    const list = this.scripts.get(gateway) ?? []
    list.push({ outcome, remaining: count })
    this.scripts.set(gateway, list)
  }

  /** The scripted outcome for the next charging request of `gateway`, consuming one use. */
  takeScript(gateway: SandboxGateway): Outcome | undefined {
    const list = this.scripts.get(gateway)
    const first = list?.[0]
    if (!list || !first) return undefined
    first.remaining--
    if (first.remaining <= 0) list.shift()
    return first.outcome
  }

  charge(c: Omit<Charge, 'at'>): void {
    this.ledger.push({ ...c, at: this.nowIso() })
  }

  fail(c: Omit<FailedCharge, 'at'>): void {
    this.failures.push({ ...c, at: this.nowIso() })
  }

  /** Work scheduled (callbacks, settlements) or in flight (deliveries): 0 when there is none. */
  get scheduled(): number {
    return this.timers.size + this.outgoing.size
  }

  /** Runs `fn` after `ms` unless the sandbox is reset or closed first. */
  later(ms: number, fn: () => void): void {
    if (this.closed) return
    const t = setTimeout(() => {
      this.timers.delete(t)
      fn()
    }, ms)
    this.timers.add(t)
  }

  /** POSTs a callback and records the delivery (status or error); never throws. */
  deliver(
    gateway: SandboxGateway,
    url: string,
    body: string,
    headers: Record<string, string> = {},
  ): Promise<void> {
    const delivery: Delivery = { gateway, url, body, headers, at: this.nowIso() }
    this.deliveries.push(delivery)
    return new Promise((resolve) => {
      let target: URL
      try {
        target = new URL(url)
      } catch {
        delivery.error = 'invalid URL'
        resolve()
        return
      }
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest
      const req = send(target, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': `dsh-sandbox/${gateway}`,
          ...headers,
        },
        timeout: 10_000,
      })
      this.outgoing.add(req)
      const done = () => {
        this.outgoing.delete(req)
        resolve()
      }
      req.on('response', (res) => {
        delivery.status = res.statusCode
        res.resume()
        res.on('end', done)
        res.on('error', done)
      })
      req.on('timeout', () => req.destroy(new Error('no answer within 10 s')))
      req.on('error', (e) => {
        delivery.error = e.message
        done()
      })
      this.log?.(`→ callback ${gateway} POST ${url}`)
      req.end(body)
    })
  }

  /** Where a gateway's webhooks go; for the bank, the API key's own registration first. */
  webhook(gateway: WebhookGateway, apiKey?: string): WebhookRegistration | undefined {
    if (gateway === 'bank' && apiKey !== undefined) {
      const own = this.bankWebhooks.get(apiKey)
      if (own) return own
    }
    return this.webhooks.get(gateway)
  }

  registerWebhook(w: WebhookRegistration): void {
    if (w.gateway === 'bank' && w.apiKey) this.bankWebhooks.set(w.apiKey, { ...w })
    else this.webhooks.set(w.gateway, { ...w, apiKey: undefined })
  }

  reset(): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.ledger = []
    this.failures = []
    this.deliveries = []
    this.requests = []
    this.webhooks.clear()
    this.bankWebhooks.clear()
    this.stores.clear()
    this.scripts.clear()
  }

  close(): void {
    this.closed = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    for (const r of this.outgoing) r.destroy()
    this.outgoing.clear()
  }
}
