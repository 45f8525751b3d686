import { createHash } from 'node:crypto'
import { validationError } from '../../core/errors.js'
import * as port from '../../core/payments/gateway-port.js'
import { paymentMethodOf, toSquareAmount } from '../amounts.js'
import { type AdapterConfig, configReader, readTimeoutOf } from '../config.js'
import type { GatewayDeps } from '../deps.js'
import { asQueryOutcome, header, isRecord, outcomeFor, str, unknownOutcome } from '../outcomes.js'
import { gatewayCaller, jsonBody, resultOf } from '../timed-request.js'
import { SQUARE_CODES } from './codes.js'
import { verifySquareSignature } from './signature.js'

/** The API version dsh was written against (Square pins behaviour per version). */
export const SQUARE_VERSION = '2025-01-23'

const squareSafe = (attemptRef: string, max: number) =>
  attemptRef.length <= max
    ? attemptRef
    : `dsh_${createHash('sha256')
        .update(attemptRef, 'utf8')
        .digest('base64url')
        .slice(0, max - 4)}`

/** Square's idempotency_key (≤ 45 chars): the attemptRef itself, or a digest when longer. */
export const squareIdempotencyKey = (attemptRef: string) => squareSafe(attemptRef, 45)
/** Square's reference_id (≤ 40 chars), used to find a payment whose create timed out. */
export const squareReferenceId = (attemptRef: string) => squareSafe(attemptRef, 40)

type Json = Record<string, unknown>
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

function paymentAmount(p: Json): bigint | undefined {
  const money = p['amount_money']
  const raw = isRecord(money) ? str(money['amount']) : undefined
  return raw && /^\d+$/.test(raw) ? BigInt(raw) : undefined
}

/** Classifies a Square Payment by its status. */
export function squarePaymentOutcome(p: Json, refs: port.GatewayRefs = {}): port.GatewayOutcome {
  const status = str(p['status']) ?? ''
  const r = {
    ...refs,
    gatewayRef: str(p['id']) ?? refs.gatewayRef,
    receiptNumber: str(p['receipt_number']) ?? refs.receiptNumber,
  }
  return outcomeFor(
    SQUARE_CODES,
    `payment.${status}`,
    undefined,
    r,
    status === 'COMPLETED' ? paymentAmount(p) : undefined,
  )
}

/** Classifies Square's `errors` array: the first code the table knows, else unknown. */
function errorsOutcome(
  errors: Json[],
  httpStatus: number,
  refs: port.GatewayRefs,
): port.GatewayOutcome {
  const known = errors.find((e) => SQUARE_CODES[str(e['code']) ?? ''])
  if (known) return outcomeFor(SQUARE_CODES, str(known['code'])!, str(known['detail']), refs)
  if (SQUARE_CODES[`http.${httpStatus}`])
    return outcomeFor(SQUARE_CODES, `http.${httpStatus}`, str(errors[0]?.['detail']), refs)
  return unknownOutcome(
    str(errors[0]?.['code']) ?? `http.${httpStatus}`,
    str(errors[0]?.['detail']) ?? 'no detail',
    refs,
  )
}

/**
 * Square Payments (GATEWAYS.md §4). For Kenyan branches Square can only record EXTERNAL or CASH
 * payments; the currency must be the location's (setting `locationCurrency` when known).
 */
export function createSquareAdapter(config: AdapterConfig, deps: GatewayDeps): port.GatewayAdapter {
  const cfg = configReader('square', config)
  const base = cfg.baseUrl()
  const accessToken = cfg.secret('accessToken')
  const locationId = cfg.setting('locationId')
  const signatureKey = cfg.optionalSecret('webhookSignatureKey')
  const webhookUrl = cfg.optionalSetting('webhookUrl')
  const locationCurrency = cfg.optionalSetting('locationCurrency')
  const send = gatewayCaller(
    deps.http,
    base,
    {
      Authorization: `Bearer ${accessToken}`,
      'Content-Type': 'application/json',
      'Square-Version': SQUARE_VERSION,
    },
    readTimeoutOf(cfg),
  )

  const call = (method: 'GET' | 'POST', path: string, body?: Json) =>
    send(method, path, body === undefined ? undefined : jsonBody(body))

  function classify(status: number, body: unknown, refs: port.GatewayRefs): port.GatewayOutcome {
    const payment = isRecord(body) && isRecord(body['payment']) ? body['payment'] : undefined
    const errors =
      isRecord(body) && Array.isArray(body['errors']) ? body['errors'].filter(isRecord) : []
    const r = payment ? { ...refs, gatewayRef: str(payment['id']) ?? refs.gatewayRef } : refs
    // A declined card comes back as errors plus a FAILED payment: the error says why.
    if (errors.length > 0) return errorsOutcome(errors, status, r)
    if (payment) return squarePaymentOutcome(payment, refs)
    return outcomeFor(SQUARE_CODES, `http.${status}`, `HTTP ${status}`, refs)
  }

  return {
    type: 'square',

    async initiate(req: port.InitiateRequest): Promise<port.GatewayCallResult> {
      const source = paymentMethodOf(
        req,
        'a Square payment needs a source (a card nonce, EXTERNAL or CASH)',
      )
      const { amount, currency } = toSquareAmount(req.amountMinor, req.currency, locationCurrency)
      if (amount > MAX_SAFE)
        throw validationError('amount_too_large', 'the amount is too large for Square')
      const amountMoney = { amount: Number(amount), currency }
      const body: Json = {
        source_id: source,
        idempotency_key: squareIdempotencyKey(req.attemptRef),
        amount_money: amountMoney,
        location_id: locationId,
        reference_id: squareReferenceId(req.attemptRef),
        note: req.description.slice(0, 500),
        autocomplete: true,
      }
      if (source === 'EXTERNAL') body['external_details'] = { type: 'OTHER', source: 'dsh' }
      if (source === 'CASH') body['cash_details'] = { buyer_supplied_money: amountMoney }
      const r = await call('POST', '/v2/payments', body)
      return resultOf(r, SQUARE_CODES, classify)
    },

    async query(attemptRef: string, refs: port.GatewayRefs): Promise<port.GatewayCallResult> {
      if (refs.gatewayRef) {
        const r = await call('GET', `/v2/payments/${encodeURIComponent(refs.gatewayRef)}`)
        return resultOf(r, SQUARE_CODES, classify, refs, true)
      }
      // No id (the create timed out): list the location's recent payments and match reference_id.
      const want = squareReferenceId(attemptRef)
      let cursor: string | undefined
      let last: Awaited<ReturnType<typeof call>> | undefined
      for (let page = 0; page < 5; page++) {
        const qs = new URLSearchParams({
          location_id: locationId,
          sort_order: 'DESC',
          limit: '100',
        })
        if (cursor) qs.set('cursor', cursor)
        const r = await call('GET', `/v2/payments?${qs}`)
        last = r
        if (!r.ok || r.status >= 300 || !isRecord(r.body))
          return resultOf(r, SQUARE_CODES, classify, refs, true)
        const list = Array.isArray(r.body['payments']) ? r.body['payments'].filter(isRecord) : []
        const hit = list.find((p) => p['reference_id'] === want)
        if (hit) return { outcome: asQueryOutcome(squarePaymentOutcome(hit, refs)), log: r.log }
        cursor = str(r.body['cursor'])
        if (!cursor) break
      }
      return {
        outcome: outcomeFor(SQUARE_CODES, 'lookup.no_match', undefined, refs),
        log: last!.log,
      }
    },

    parseCallback(body: unknown): port.ParsedCallback {
      const data = isRecord(body) ? body['data'] : undefined
      const object = isRecord(data) ? data['object'] : undefined
      const payment = isRecord(object) ? object['payment'] : undefined
      const eventId = isRecord(body) ? str(body['event_id']) : undefined
      if (!isRecord(body) || !eventId || !str(body['type']) || !isRecord(payment)) {
        throw validationError(
          'unknown_callback',
          'the body is not a Square payment event',
          'expected {"type":"payment.updated","event_id":…,"data":{"object":{"payment":…}}}',
        )
      }
      const money = payment['amount_money']
      return {
        dedupeKey: `square:${eventId}`,
        gatewayRef: str(payment['id']),
        attemptRef: str(payment['reference_id']),
        outcome: squarePaymentOutcome(payment),
        amountMinor: paymentAmount(payment),
        currency: isRecord(money) ? str(money['currency']) : undefined,
      }
    },

    verifyCallback(rawBody, headersIn, url) {
      if (!signatureKey) return false
      // Square signs the URL it was given at subscription; behind a proxy that is not ours.
      return verifySquareSignature(
        rawBody,
        header(headersIn, 'x-square-hmacsha256-signature'),
        signatureKey,
        webhookUrl ?? url,
      )
    },

    async testCredentials(): Promise<port.CredentialCheck> {
      const r = await call('GET', `/v2/locations/${encodeURIComponent(locationId)}`)
      if (!r.ok) return port.unreachable(`Square is unreachable at ${base} (${r.err.message})`)
      if (r.status === 401 || r.status === 403)
        return port.rejected(`Square refused the access token (HTTP ${r.status})`)
      if (r.status === 404) return port.rejected(`Square has no location ${locationId}`)
      if (r.status >= 300) return port.unreachable(`Square answered HTTP ${r.status}`)
      const loc = isRecord(r.body) && isRecord(r.body['location']) ? r.body['location'] : {}
      const cur = str(loc['currency'])
      return {
        ok: true,
        message: `Square accepted the token; location ${locationId}${cur ? ` takes ${cur}` : ''}`,
      }
    },
  }
}
