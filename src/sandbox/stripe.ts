import { createHmac } from 'node:crypto'
import * as http from './http-kit.js'
import { MAGIC_CARDS } from './magic.js'
import type { SimState } from './state.js'
import type { Outcome } from './types.js'

/** Effectively zero-decimal but sent ×100: the amount must end in 00 (Stripe's special cases). */
const TIMES_100 = new Set(['ugx', 'isk'])

interface PaymentIntent {
  id: string
  object: 'payment_intent'
  amount: number
  amount_received: number
  currency: string
  status: string
  payment_method: string | null
  payment_method_types: string[]
  capture_method: 'automatic'
  confirmation_method: 'automatic'
  created: number
  description: string | null
  metadata: Record<string, string>
  latest_charge: string | null
  last_payment_error: Record<string, unknown> | null
  livemode: false
  client_secret: string
}

interface StripeStore {
  intents: Map<string, PaymentIntent>
  /** `${secret key}\n${Idempotency-Key}` → the first request's fingerprint and answer. */
  idempotency: http.IdempotencyMemory
}

const stripeError = (status: number, error: Record<string, unknown>) => http.json(status, { error })
const invalidRequest = (message: string, extra: Record<string, unknown> = {}) =>
  stripeError(400, { type: 'invalid_request_error', message, ...extra })

const DECLINES: Partial<Record<Outcome, { decline_code: string; message: string }>> = {
  declined: { decline_code: 'generic_decline', message: 'Your card was declined.' },
  insufficient_funds: {
    decline_code: 'insufficient_funds',
    message: 'Your card has insufficient funds.',
  },
}

/** Stripe PaymentIntents, idempotency and signed webhooks (GATEWAYS.md §3). */
export function stripeRoutes(state: SimState): http.Route[] {
  const store = () =>
    state.store<StripeStore>('stripe', () => ({ intents: new Map(), idempotency: new Map() }))

  function authorised(req: http.SimRequest): { key: string } | http.SimReply {
    const key = http.bearer(req.headers)
    if (!key?.startsWith('sk_'))
      return stripeError(401, {
        type: 'invalid_request_error',
        message: `Invalid API Key provided: ${key ? `${key.slice(0, 8)}****` : '(none)'}`,
      })
    return { key }
  }

  function sendEvent(type: string, pi: PaymentIntent, outcome: Outcome): void {
    const hook = state.webhook('stripe')
    if (!hook || outcome === 'lost_callback') return
    const body = JSON.stringify({
      id: `evt_${http.randomAlnum(24)}`,
      object: 'event',
      api_version: '2024-06-20',
      created: Math.floor(state.now() / 1000),
      data: { object: { ...pi } },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
    })
    const post = () => {
      const t = Math.floor(state.now() / 1000)
      const v1 = createHmac('sha256', hook.secret).update(`${t}.${body}`, 'utf8').digest('hex')
      void state.deliver('stripe', hook.url, body, { 'stripe-signature': `t=${t},v1=${v1}` })
    }
    const delay =
      state.timings.callbackDelayMs +
      (outcome === 'late_callback' ? state.timings.lateCallbackMs : 0)
    state.later(delay, () => {
      for (let i = 0; i < (outcome === 'duplicate_callback' ? 3 : 1); i++) post()
    })
  }

  /** Confirms `pi` now; `fresh` when it was created by this request (then a failure leaves no trace). */
  function charge(
    pi: PaymentIntent,
    fresh: boolean,
    attemptRef: string | undefined,
  ): http.SimReply {
    const outcome =
      state.takeScript('stripe') ?? MAGIC_CARDS[pi.payment_method ?? '']?.outcome ?? 'success'
    switch (outcome) {
      case 'http_500':
        return stripeError(500, { type: 'api_error', message: 'An unknown error occurred' })
      case 'http_503':
        return stripeError(503, { type: 'api_error', message: 'Stripe is temporarily unavailable' })
      case 'connection_reset':
        return http.RESET
    }
    if (fresh) store().intents.set(pi.id, pi)
    const decline = DECLINES[outcome]
    if (decline) {
      const error = {
        type: 'card_error',
        code: 'card_declined',
        ...decline,
        charge: `ch_${http.randomAlnum(24)}`,
      }
      pi.status = 'requires_payment_method'
      pi.last_payment_error = error
      sendEvent('payment_intent.payment_failed', pi, 'success')
      return stripeError(402, { ...error, payment_intent: { ...pi } })
    }
    pi.status = 'succeeded'
    pi.amount_received = pi.amount
    pi.latest_charge = `ch_${http.randomAlnum(24)}`
    pi.last_payment_error = null
    state.charge({
      gateway: 'stripe',
      reference: pi.id,
      receipt: pi.latest_charge,
      attemptRef: attemptRef ?? pi.metadata['dsh_attempt_ref'],
      amount: String(pi.amount),
      currency: pi.currency,
    })
    sendEvent('payment_intent.succeeded', pi, outcome)
    const reply = http.json(200, { ...pi })
    return state.answer(outcome, reply)
  }

  function createIntent(form: URLSearchParams, attemptRef: string | undefined): http.SimReply {
    const rawAmount = form.get('amount')
    if (rawAmount === null)
      return invalidRequest('Missing required param: amount.', {
        code: 'parameter_missing',
        param: 'amount',
      })
    if (!/^\d+$/.test(rawAmount))
      return invalidRequest('Invalid integer: amount', {
        code: 'parameter_invalid_integer',
        param: 'amount',
      })
    const currency = form.get('currency')
    if (currency === null)
      return invalidRequest('Missing required param: currency.', {
        code: 'parameter_missing',
        param: 'currency',
      })
    if (!/^[a-z]{3}$/.test(currency))
      return invalidRequest(
        `Invalid currency: ${currency}. Stripe currencies are lower-case ISO codes.`,
        { param: 'currency' },
      )
    const amount = Number(rawAmount)
    if (amount < 1)
      return invalidRequest('Amount must be at least 1', {
        code: 'amount_too_small',
        param: 'amount',
      })
    if (rawAmount.length > 8)
      return invalidRequest('Amount must be no more than 99999999', {
        code: 'amount_too_large',
        param: 'amount',
      })
    if (TIMES_100.has(currency) && amount % 100 !== 0) {
      return invalidRequest(
        `Currency ${currency.toUpperCase()} has become effectively zero-decimal and charged amounts must be evenly divisible by 100`,
        { code: 'parameter_invalid_integer', param: 'amount' },
      )
    }
    const pm = form.get('payment_method')
    if (pm !== null && !pm.startsWith('pm_'))
      return invalidRequest(`No such PaymentMethod: '${pm}'`, {
        code: 'resource_missing',
        param: 'payment_method',
      })
    const metadata: Record<string, string> = {}
    for (const [k, v] of form) {
      const m = /^metadata\[(.+)\]$/.exec(k)
      if (m) metadata[m[1]!] = v
    }
    const types = [...form]
      .filter(([k]) => /^payment_method_types\[\d*\]$/.test(k))
      .map(([, v]) => v)
    const id = `pi_${http.randomAlnum(24)}`
    const pi: PaymentIntent = {
      id,
      object: 'payment_intent',
      amount,
      amount_received: 0,
      currency,
      status: pm ? 'requires_confirmation' : 'requires_payment_method',
      payment_method: pm,
      payment_method_types: types.length > 0 ? types : ['card'],
      capture_method: 'automatic',
      confirmation_method: 'automatic',
      created: Math.floor(state.now() / 1000),
      description: form.get('description'),
      metadata,
      latest_charge: null,
      last_payment_error: null,
      livemode: false,
      client_secret: `${id}_secret_${http.randomAlnum(24)}`,
    }
    if (form.get('confirm') === 'true') {
      if (!pm)
        return invalidRequest('You must provide a payment_method to confirm.', {
          code: 'parameter_missing',
          param: 'payment_method',
        })
      return charge(pi, true, attemptRef)
    }
    store().intents.set(id, pi)
    return http.json(200, { ...pi })
  }

  function confirmIntent(
    id: string,
    form: URLSearchParams,
    attemptRef: string | undefined,
  ): http.SimReply {
    const pi = store().intents.get(id)
    if (!pi)
      return invalidRequest(`No such payment_intent: '${id}'`, {
        code: 'resource_missing',
        param: 'intent',
      })
    const pm = form.get('payment_method')
    if (pm !== null) {
      if (!pm.startsWith('pm_'))
        return invalidRequest(`No such PaymentMethod: '${pm}'`, {
          code: 'resource_missing',
          param: 'payment_method',
        })
      pi.payment_method = pm
    }
    if (pi.status !== 'requires_confirmation' && pi.status !== 'requires_payment_method')
      return invalidRequest(
        `This PaymentIntent's status is ${pi.status}, so it cannot be confirmed.`,
        {
          code: 'payment_intent_unexpected_state',
        },
      )
    if (!pi.payment_method)
      return invalidRequest('You must provide a payment_method to confirm.', {
        code: 'parameter_missing',
      })
    return charge(pi, false, attemptRef)
  }

  /** Runs a POST under Stripe's idempotency rules: replay the first answer, 5xx included. */
  function idempotent(
    req: http.SimRequest,
    run: (form: URLSearchParams, key: string | undefined) => http.SimReply,
  ): http.SimReply {
    const auth = authorised(req)
    if ('kind' in auth) return auth
    const form = new URLSearchParams(req.raw)
    const key = http.headerOf(req.headers, 'idempotency-key')
    if (key === undefined) return run(form, undefined)
    if (key.length > 255) return invalidRequest('Idempotency-Key must be at most 255 characters')
    const fingerprint = `${req.method} ${req.path}\n${[...form]
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join('&')}`
    return http.idempotent(
      store().idempotency,
      `${auth.key}\n${key}`,
      fingerprint,
      () =>
        stripeError(400, {
          type: 'idempotency_error',
          message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        }),
      () => run(form, key),
      (first) =>
        first.kind === 'json'
          ? { ...first, headers: { ...first.headers, 'Idempotent-Replayed': 'true' } }
          : first,
    )
  }

  function retrieve(req: http.SimRequest): http.SimReply {
    const auth = authorised(req)
    if ('kind' in auth) return auth
    const id = decodeURIComponent(req.params[0] ?? '')
    const pi = store().intents.get(id)
    if (!pi)
      return stripeError(404, {
        type: 'invalid_request_error',
        code: 'resource_missing',
        message: `No such payment_intent: '${id}'`,
      })
    return http.json(200, { ...pi })
  }

  function search(req: http.SimRequest): http.SimReply {
    const auth = authorised(req)
    if ('kind' in auth) return auth
    const m = /^metadata\['([^']+)'\]:'((?:[^'\\]|\\.)*)'$/.exec(req.query.get('query') ?? '')
    if (!m)
      return invalidRequest("The sandbox understands only metadata['key']:'value' queries", {
        code: 'parameter_invalid_string',
        param: 'query',
      })
    const [, k, v] = m as unknown as [string, string, string]
    const value = v.replace(/\\(.)/g, '$1')
    const data = [...store().intents.values()].filter((p) => p.metadata[k] === value).reverse()
    return http.json(200, {
      object: 'search_result',
      url: '/v1/payment_intents/search',
      has_more: false,
      data,
    })
  }

  function balance(req: http.SimRequest): http.SimReply {
    const auth = authorised(req)
    if ('kind' in auth) return auth
    return http.json(200, {
      object: 'balance',
      available: [{ amount: 0, currency: 'usd' }],
      pending: [],
      livemode: false,
    })
  }

  return [
    http.route('POST', /^\/v1\/payment_intents$/, (req) => idempotent(req, createIntent)),
    http.route('POST', /^\/v1\/payment_intents\/([^/]+)\/confirm$/, (req) =>
      idempotent(req, (form, key) =>
        confirmIntent(decodeURIComponent(req.params[0] ?? ''), form, key),
      ),
    ),
    http.route('GET', /^\/v1\/payment_intents\/search$/, search),
    http.route('GET', /^\/v1\/payment_intents\/([^/]+)$/, retrieve),
    http.route('GET', /^\/v1\/balance$/, balance),
  ]
}
