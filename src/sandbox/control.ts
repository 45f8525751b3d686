import { type DarajaSim, SANDBOX_SHORTCODE } from './daraja.js'
import { json, parseJsonBody, type Route, route, type SimRequest, text } from './http-kit.js'
import { MAGIC_CARDS, MAGIC_PHONES, PUSH_FAILURES, REFUSED_CREDENTIAL } from './magic.js'
import type { SimState } from './state.js'
import { bankStatement, mpesaStatement } from './statement.js'
import {
  type Charge,
  type Delivery,
  type FailedCharge,
  OUTCOMES,
  OUTCOMES_BY_GATEWAY,
  type Outcome,
  type RequestRecord,
  SANDBOX_GATEWAYS,
  type SandboxGateway,
  type ScriptRule,
  type WebhookGateway,
} from './types.js'

/** Checks a script rule from code or from `POST /__control/script`; returns why it is refused. */
export function checkRule(rule: Partial<ScriptRule>): string | undefined {
  if (!rule.gateway || !(SANDBOX_GATEWAYS as readonly string[]).includes(rule.gateway))
    return `gateway must be one of ${SANDBOX_GATEWAYS.join(', ')}`
  if (!rule.outcome || !(OUTCOMES as readonly string[]).includes(rule.outcome))
    return `outcome must be one of ${OUTCOMES.join(', ')}`
  if (!OUTCOMES_BY_GATEWAY[rule.gateway].includes(rule.outcome))
    return `${rule.outcome} does not apply to ${rule.gateway}; use one of ${OUTCOMES_BY_GATEWAY[rule.gateway].join(', ')}`
  if (
    rule.count !== undefined &&
    (!Number.isSafeInteger(rule.count) || rule.count < 1 || rule.count > 10_000)
  )
    return 'count must be a whole number from 1 to 10000'
  return undefined
}

/** A statement as CSV, or 400 naming what is wrong with the query. */
function statement(req: SimRequest, build: (q: URLSearchParams) => string) {
  try {
    return text(200, build(req.query), 'text/csv; charset=utf-8')
  } catch (e) {
    return json(400, { error: (e as Error).message })
  }
}

const param = (q: URLSearchParams, name: string) => {
  const v = q.get(name)
  if (!v) throw new Error(`${name} is required`)
  return v
}

/** What the control endpoints read from the running sandbox. */
export interface ControlView {
  ledger(): Charge[]
  failures(): FailedCharge[]
  deliveries(): Delivery[]
  requests(): RequestRecord[]
}

/**
 * `/__control/*`: ledger, statements/mpesa, statements/bank, deliveries, requests, magic (GET); reset, script, webhooks, passkeys,
 * c2b, expire-tokens (POST). Loopback only, like the rest of the sandbox.
 */
export function controlRoutes(state: SimState, api: ControlView, daraja: DarajaSim): Route[] {
  return [
    route('GET', /^\/__control\/ledger$/, () => json(200, api.ledger())),
    // Statements of the money that moved (src/sandbox/statement.ts), days in Africa/Nairobi.
    route('GET', /^\/__control\/statements\/mpesa$/, (req) =>
      statement(req, (q) =>
        mpesaStatement(api.ledger(), {
          failures: api.failures(),
          shortcode: param(q, 'shortcode'),
          from: param(q, 'from'),
          to: param(q, 'to'),
        }),
      ),
    ),
    route('GET', /^\/__control\/statements\/bank$/, (req) =>
      statement(req, (q) =>
        bankStatement(api.ledger(), {
          account: param(q, 'account'),
          from: param(q, 'from'),
          to: param(q, 'to'),
        }),
      ),
    ),
    route('GET', /^\/__control\/deliveries$/, () => json(200, api.deliveries())),
    route('GET', /^\/__control\/requests$/, () => json(200, api.requests())),
    route('GET', /^\/__control\/magic$/, () =>
      json(200, {
        phones: MAGIC_PHONES,
        pushFailures: PUSH_FAILURES,
        cards: MAGIC_CARDS,
        refusedCredential: REFUSED_CREDENTIAL,
        outcomes: OUTCOMES_BY_GATEWAY,
      }),
    ),
    route('POST', /^\/__control\/reset$/, () => {
      state.reset()
      return json(200, { reset: true })
    }),
    route('POST', /^\/__control\/expire-tokens$/, () =>
      json(200, { expired: daraja.expireTokens() }),
    ),
    route('POST', /^\/__control\/script$/, (req) => {
      const b = (parseJsonBody(req.raw) ?? {}) as Partial<ScriptRule>
      const why = checkRule(b)
      if (why) return json(400, { error: why })
      state.script(b.gateway as SandboxGateway, b.outcome as Outcome, b.count ?? 1)
      return json(200, { queued: { gateway: b.gateway, outcome: b.outcome, count: b.count ?? 1 } })
    }),
    route('POST', /^\/__control\/webhooks$/, (req) => {
      const b = parseJsonBody(req.raw) ?? {}
      const gateway = b['gateway']
      const url = b['url']
      const secret = b['secret']
      if (gateway !== 'stripe' && gateway !== 'square' && gateway !== 'bank')
        return json(400, { error: 'gateway must be stripe, square or bank' })
      if (typeof url !== 'string' || !/^https?:\/\//.test(url))
        return json(400, { error: 'url must be an http(s) URL' })
      if (typeof secret !== 'string' || !secret) return json(400, { error: 'secret is required' })
      const apiKey = b['apiKey']
      if (apiKey !== undefined && (gateway !== 'bank' || typeof apiKey !== 'string' || !apiKey))
        return json(400, { error: 'apiKey is a non-empty string, for the bank only' })
      state.registerWebhook({
        gateway: gateway as WebhookGateway,
        url,
        secret,
        apiKey: apiKey as string | undefined,
      })
      return json(200, {
        registered: { gateway, url, ...(apiKey !== undefined ? { apiKey: '(set)' } : {}) },
      })
    }),
    route('POST', /^\/__control\/passkeys$/, (req) => {
      const b = parseJsonBody(req.raw) ?? {}
      if (typeof b['shortcode'] !== 'string' || typeof b['passkey'] !== 'string' || !b['passkey'])
        return json(400, { error: 'shortcode and passkey are required' })
      daraja.registerPasskey(b['shortcode'], b['passkey'])
      return json(200, { registered: b['shortcode'] })
    }),
    route('POST', /^\/__control\/c2b$/, (req) => {
      const b = parseJsonBody(req.raw) ?? {}
      return daraja.c2bPayment({
        shortcode: String(b['shortcode'] ?? SANDBOX_SHORTCODE),
        amount: b['amount'],
        msisdn: String(b['msisdn'] ?? '254708374149'),
        billRefNumber: String(b['billRefNumber'] ?? ''),
        commandId: String(b['commandId'] ?? 'CustomerPayBillOnline'),
      })
    }),
  ]
}
