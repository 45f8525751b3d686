import { validationError } from '../../core/errors.js'
import * as port from '../../core/payments/gateway-port.js'
import { mpesaPush } from '../amounts.js'
import { type AdapterConfig, configReader, readTimeoutOf } from '../config.js'
import type { GatewayDeps } from '../deps.js'
import type { HttpResponse } from '../http.js'
import {
  asQueryOutcome,
  explainedOutcome,
  isRecord,
  outcomeFor,
  str,
  transportCode,
  transportOutcome,
} from '../outcomes.js'
import { gatewayCaller, jsonBody } from '../timed-request.js'
import { KCB_CODES } from './codes.js'

/** Classifies a KCB status record (status poll or callback); amounts are whole shillings. */
function statusOutcome(data: Record<string, unknown>, refs: port.GatewayRefs): port.GatewayOutcome {
  const status = str(data['status'])?.toUpperCase() ?? ''
  const desc = str(data['resultDesc'])
  const amount = str(data['amount'])
  const amountMinor =
    amount !== undefined && /^\d+$/.test(amount) ? BigInt(amount) * 100n : undefined
  const full = {
    ...refs,
    gatewayRef: refs.gatewayRef ?? str(data['requestReferenceId']),
    receiptNumber: str(data['receiptNumber']) ?? refs.receiptNumber,
  }
  if (status === 'FAILED') {
    const code = str(data['resultCode'])?.trim()
    return outcomeFor(KCB_CODES, code || 'status.FAILED', desc, full)
  }
  return outcomeFor(KCB_CODES, `status.${status}`, desc, full, amountMinor)
}

/** An error body `{status:"FAILED", errorCode, message}` (our assumption), else the HTTP status. */
function errorOutcome(
  res: HttpResponse,
  body: unknown,
  refs: port.GatewayRefs,
): port.GatewayOutcome {
  if (isRecord(body) && str(body['errorCode']))
    return outcomeFor(KCB_CODES, str(body['errorCode'])!, str(body['message']), refs)
  return explainedOutcome(KCB_CODES, `http.${res.status}`, `HTTP ${res.status}`, refs)
}

/**
 * KCB M-Pesa collection through Zed (GATEWAYS.md §2): STK push with X-Authorization, a status
 * poll and a callback whose shapes are our assumptions (documented in src/sandbox/kcb.ts).
 * KES only, whatever the configuration's `currencies` says: there is no currency field.
 */
export function createKcbAdapter(config: AdapterConfig, deps: GatewayDeps): port.GatewayAdapter {
  const cfg = configReader('mpesa-kcb', config)
  const base = cfg.baseUrl()
  const apiKey = cfg.secret('apiKey')
  const externalOrigin = cfg.setting('externalOrigin')
  // The only value seen working in public code; configurable because its meaning is unknown.
  const paymentType = cfg.optionalSetting('paymentType') ?? 'bookingTicket'
  const readTimeoutMs = readTimeoutOf(cfg)
  const call = gatewayCaller(
    deps.http,
    base,
    { 'X-Authorization': apiKey, 'Content-Type': 'application/json', Accept: 'application/json' },
    readTimeoutMs,
  )
  const send = (req: { method: 'GET' | 'POST'; url: string; body?: unknown }) =>
    call(req.method, req.url, req.body === undefined ? undefined : jsonBody(req.body))

  return {
    type: 'mpesa-kcb',

    async initiate(req: port.InitiateRequest): Promise<port.GatewayCallResult> {
      const { amount, phone } = mpesaPush(req, 'KCB M-Pesa')
      const body = {
        amount,
        phone,
        type: paymentType,
        externalOrigin,
        orderIds: [req.attemptRef],
        batchId: '',
        callbackUrl: req.callbackUrl,
      }
      const r = await send({
        method: 'POST',
        url: `${base}/api/v1/payments/initiate_kcb_stk_push`,
        body,
      })
      if (!r.ok)
        return {
          outcome: explainedOutcome(KCB_CODES, transportCode(r.err.code), r.err.message),
          log: r.log,
        }
      const b = r.body
      const data = isRecord(b) ? b['data'] : undefined
      if (
        r.res.status < 300 &&
        isRecord(b) &&
        str(b['status'])?.toUpperCase() === 'SUCCESS' &&
        isRecord(data) &&
        str(data['requestReferenceId'])
      ) {
        const refs = { gatewayRef: str(data['requestReferenceId']), secondaryRef: str(data['id']) }
        return {
          outcome: outcomeFor(
            KCB_CODES,
            'status.PENDING',
            str(b['message']) ?? 'STK push sent',
            refs,
          ),
          log: r.log,
        }
      }
      return { outcome: errorOutcome(r.res, b, {}), log: r.log }
    },

    async query(attemptRef: string, refs: port.GatewayRefs): Promise<port.GatewayCallResult> {
      // Without a requestReferenceId (the push timed out), look the push up by the order id we
      // sent: our attempt reference travels in orderIds (a dsh-defined status query, see the
      // assumptions in src/sandbox/kcb.ts).
      const url = refs.gatewayRef
        ? `${base}/api/v1/payments/status/${encodeURIComponent(refs.gatewayRef)}`
        : `${base}/api/v1/payments/status?orderId=${encodeURIComponent(attemptRef)}`
      const r = await send({ method: 'GET', url })
      if (!r.ok)
        return { outcome: asQueryOutcome(transportOutcome(KCB_CODES, r.err, refs)), log: r.log }
      const data = isRecord(r.body) ? r.body['data'] : undefined
      const outcome =
        r.res.status < 300 && isRecord(data) && str(data['status'])
          ? statusOutcome(data, refs)
          : errorOutcome(r.res, r.body, refs)
      return { outcome: asQueryOutcome(outcome), log: r.log }
    },

    parseCallback(body: unknown): port.ParsedCallback {
      const ref = isRecord(body) ? str(body['requestReferenceId']) : undefined
      if (!isRecord(body) || !ref || !str(body['status'])) {
        throw validationError(
          'unknown_callback',
          'the body is not a KCB/Zed payment callback',
          'expected {requestReferenceId, orderIds, status, resultCode, resultDesc, receiptNumber, amount, phone}',
        )
      }
      const orderIds = Array.isArray(body['orderIds']) ? body['orderIds'].map(str) : []
      const outcome = statusOutcome(body, { gatewayRef: ref })
      const amount = str(body['amount'])
      return {
        dedupeKey: `mpesa-kcb:${ref}`,
        gatewayRef: ref,
        attemptRef: orderIds[0],
        outcome,
        amountMinor:
          amount !== undefined && /^\d+$/.test(amount) ? BigInt(amount) * 100n : undefined,
        currency: 'KES',
      }
    },

    // Zed signs nothing that we know of: the daemon checks the secret path token.
    verifyCallback: () => true,

    async testCredentials(): Promise<port.CredentialCheck> {
      // A status query for a made-up id: 401 means the key is refused, 404 means it was accepted.
      const r = await send({
        method: 'GET',
        url: `${base}/api/v1/payments/status/dsh-credential-check`,
      })
      if (!r.ok) return port.unreachable(`KCB/Zed is unreachable at ${base} (${r.err.message})`)
      if (r.res.status === 401 || r.res.status === 403)
        return port.rejected(`KCB/Zed refused the API key (HTTP ${r.res.status})`)
      if (r.res.status >= 500) return port.unreachable(`KCB/Zed answered HTTP ${r.res.status}`)
      return { ok: true, message: `KCB/Zed accepted the API key at ${base}` }
    },
  }
}
