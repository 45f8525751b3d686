import { validationError } from '../../core/errors.js'
import * as port from '../../core/payments/gateway-port.js'
import { fromStripeAmount, paymentMethodOf, toStripeAmount } from '../amounts.js'
import { type AdapterConfig, configReader, readTimeoutOf } from '../config.js'
import type { GatewayDeps } from '../deps.js'
import { asQueryOutcome, header, isRecord, outcomeFor, str, unknownOutcome } from '../outcomes.js'
import { formBody, gatewayCaller, resultOf } from '../timed-request.js'
import { STRIPE_CODES } from './codes.js'
import { verifyStripeSignature } from './signature.js'

/** The metadata key that carries our attempt reference on every PaymentIntent. */
export const STRIPE_ATTEMPT_KEY = 'dsh_attempt_ref'

type Json = Record<string, unknown>

function amountOf(pi: Json): bigint | undefined {
  const raw = str(pi['amount_received']) ?? str(pi['amount'])
  const cur = str(pi['currency'])
  if (!raw || !/^\d+$/.test(raw) || !cur) return undefined
  return fromStripeAmount(BigInt(raw), cur)
}

const refsOf = (pi: Json, refs: port.GatewayRefs = {}): port.GatewayRefs => {
  const charge = pi['latest_charge']
  return {
    ...refs,
    gatewayRef: str(pi['id']) ?? refs.gatewayRef,
    receiptNumber: (isRecord(charge) ? str(charge['id']) : str(charge)) ?? refs.receiptNumber,
  }
}

/** Classifies a Stripe error object: decline_code, then code, then type, then the HTTP status. */
export function stripeErrorOutcome(
  err: Json,
  httpStatus: number | undefined,
  refs: port.GatewayRefs,
): port.GatewayOutcome {
  const message = str(err['message'])
  for (const key of [str(err['decline_code']), str(err['code']), str(err['type'])]) {
    if (key && STRIPE_CODES[key]) return outcomeFor(STRIPE_CODES, key, message, refs)
  }
  const http = httpStatus === undefined ? undefined : `http.${httpStatus}`
  if (http && STRIPE_CODES[http]) return outcomeFor(STRIPE_CODES, http, message, refs)
  return unknownOutcome(
    str(err['code']) ?? str(err['type']) ?? http ?? 'error',
    message ?? 'no message',
    refs,
  )
}

/** Classifies a PaymentIntent by its status (and its last_payment_error once refused). */
export function paymentIntentOutcome(pi: Json, refs: port.GatewayRefs = {}): port.GatewayOutcome {
  const status = str(pi['status']) ?? ''
  const r = refsOf(pi, refs)
  const lastError = pi['last_payment_error']
  if (status === 'requires_payment_method' && isRecord(lastError))
    return stripeErrorOutcome(lastError, undefined, r)
  return outcomeFor(
    STRIPE_CODES,
    `pi.${status}`,
    undefined,
    r,
    status === 'succeeded' ? amountOf(pi) : undefined,
  )
}

/** Stripe PaymentIntents (GATEWAYS.md §3): form-encoded, Idempotency-Key = our attemptRef. */
export function createStripeAdapter(config: AdapterConfig, deps: GatewayDeps): port.GatewayAdapter {
  const cfg = configReader('stripe', config)
  const base = cfg.baseUrl()
  const secretKey = cfg.secret('secretKey')
  const webhookSecret = cfg.optionalSecret('webhookSecret')
  const readTimeoutMs = readTimeoutOf(cfg)
  const auth = { Authorization: `Bearer ${secretKey}` }

  const send = gatewayCaller(deps.http, base, auth, readTimeoutMs, (res) => ({
    replayed: res.headers['idempotent-replayed'] === 'true',
  }))
  const call = (
    method: 'GET' | 'POST',
    path: string,
    form?: URLSearchParams,
    idempotencyKey?: string,
  ) => send(method, path, form ? formBody(form) : undefined, idempotencyKey)

  /** A PaymentIntent answer, an error answer, or an HTTP status without either. */
  function classify(status: number, body: unknown, refs: port.GatewayRefs): port.GatewayOutcome {
    if (isRecord(body) && body['object'] === 'payment_intent')
      return paymentIntentOutcome(body, refs)
    if (isRecord(body) && isRecord(body['error'])) {
      const err = body['error']
      const pi = err['payment_intent']
      return stripeErrorOutcome(err, status, isRecord(pi) ? refsOf(pi, refs) : refs)
    }
    return outcomeFor(STRIPE_CODES, `http.${status}`, `HTTP ${status}`, refs)
  }

  return {
    type: 'stripe',

    async initiate(req: port.InitiateRequest): Promise<port.GatewayCallResult> {
      const method = paymentMethodOf(req, 'a card payment needs a Stripe payment method (pm_…)')
      if (req.attemptRef.length > 255)
        throw validationError(
          'attempt_ref_too_long',
          'Stripe idempotency keys are at most 255 characters',
        )
      const { amount, currency } = toStripeAmount(req.amountMinor, req.currency)
      const form = new URLSearchParams()
      form.set('amount', amount.toString())
      form.set('currency', currency)
      form.set('payment_method', method)
      form.set('payment_method_types[0]', 'card')
      form.set('confirm', 'true')
      if (req.description) form.set('description', req.description.slice(0, 1000))
      form.set(`metadata[${STRIPE_ATTEMPT_KEY}]`, req.attemptRef)
      form.set('metadata[dsh_order_id]', req.orderId.slice(0, 500))
      const r = await call('POST', '/v1/payment_intents', form, req.attemptRef)
      return resultOf(r, STRIPE_CODES, classify)
    },

    async query(attemptRef: string, refs: port.GatewayRefs): Promise<port.GatewayCallResult> {
      if (refs.gatewayRef) {
        const r = await call('GET', `/v1/payment_intents/${encodeURIComponent(refs.gatewayRef)}`)
        return resultOf(r, STRIPE_CODES, classify, refs, true)
      }
      // No id (the create timed out): find it by the attempt reference in its metadata.
      const q = `metadata['${STRIPE_ATTEMPT_KEY}']:'${attemptRef.replace(/'/g, "\\'")}'`
      const r = await call('GET', `/v1/payment_intents/search?query=${encodeURIComponent(q)}`)
      if (!r.ok) return resultOf(r, STRIPE_CODES, classify, refs, true)
      const data =
        isRecord(r.body) && Array.isArray(r.body['data'])
          ? r.body['data'].filter(isRecord)
          : undefined
      if (r.status < 300 && data) {
        const pi = data.find((p) => p['status'] === 'succeeded') ?? data[0]
        const outcome = pi
          ? paymentIntentOutcome(pi, refs)
          : outcomeFor(STRIPE_CODES, 'search.no_match', undefined, refs)
        return { outcome: asQueryOutcome(outcome), log: r.log }
      }
      return resultOf(r, STRIPE_CODES, classify, refs, true)
    },

    parseCallback(body: unknown): port.ParsedCallback {
      const data = isRecord(body) ? body['data'] : undefined
      const pi = isRecord(data) ? data['object'] : undefined
      const id = isRecord(body) ? str(body['id']) : undefined
      if (
        !isRecord(body) ||
        body['object'] !== 'event' ||
        !id ||
        !str(body['type']) ||
        !isRecord(pi)
      ) {
        throw validationError(
          'unknown_callback',
          'the body is not a Stripe event',
          'expected {"id":"evt_…","object":"event","type":…,"data":{"object":…}}',
        )
      }
      if (pi['object'] !== 'payment_intent') {
        throw validationError(
          'unsupported_event',
          `Stripe event ${str(body['type'])} is not about a PaymentIntent`,
          'subscribe the endpoint to payment_intent.* events only',
        )
      }
      const metadata = pi['metadata']
      const outcome = paymentIntentOutcome(pi)
      return {
        dedupeKey: `stripe:${id}`,
        gatewayRef: str(pi['id']),
        attemptRef: isRecord(metadata) ? str(metadata[STRIPE_ATTEMPT_KEY]) : undefined,
        outcome,
        amountMinor: amountOf(pi),
        currency: str(pi['currency'])?.toUpperCase(),
      }
    },

    verifyCallback(rawBody, headers, _url, nowMs) {
      return (
        webhookSecret !== undefined &&
        verifyStripeSignature(rawBody, header(headers, 'stripe-signature'), webhookSecret, nowMs)
      )
    },

    async testCredentials(): Promise<port.CredentialCheck> {
      const r = await call('GET', '/v1/balance')
      if (!r.ok) return port.unreachable(`Stripe is unreachable at ${base} (${r.err.message})`)
      if (r.status === 401 || r.status === 403)
        return port.rejected(`Stripe refused the secret key (HTTP ${r.status})`)
      if (r.status >= 300) return port.unreachable(`Stripe answered HTTP ${r.status}`)
      return { ok: true, message: `Stripe accepted the secret key at ${base}` }
    },
  }
}
