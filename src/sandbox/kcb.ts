/*
 * KCB M-Pesa collection through Zed (GATEWAYS.md §2). Zed publishes no documentation; only the
 * push request is known from public code. Everything else here is OUR ASSUMPTION, to be confirmed
 * with Zed before production:
 *
 * - push: POST /api/v1/payments/initiate_kcb_stk_push, header `X-Authorization: <apiKey>`, body
 *   `{amount, phone, type, externalOrigin, orderIds:[ref], batchId, callbackUrl}`; `amount` is
 *   whole KES (a number), `phone` 2547XXXXXXXX / 2541XXXXXXXX, `callbackUrl` is our addition and
 *   there is no currency field (KES only; a `currency` other than KES is refused).
 *   Accepted: 200 `{status:"SUCCESS", message, data:{requestReferenceId, id, status:"PENDING"}}`.
 * - errors: `{status:"FAILED", errorCode, message}` with 400 INVALID_REQUEST / UNSUPPORTED_CURRENCY,
 *   401 UNAUTHORIZED, 404 NOT_FOUND, 409 SUBSCRIBER_LOCKED, and 500 INTERNAL_ERROR / 503
 *   SERVICE_UNAVAILABLE when Zed itself refused the request (not processed); 429 carries no
 *   errorCode, and a proxy's 502/504 in front of Zed carries an HTML page.
 * - status by order id (for a push whose answer never came): GET /api/v1/payments/status?orderId=<ref>
 *   → the same shape, or 404 NOT_FOUND.
 * - status: GET /api/v1/payments/status/:requestReferenceId →
 *   `{data:{requestReferenceId, status:"PENDING"|"SUCCESS"|"FAILED", resultCode, resultDesc,
 *   receiptNumber, amount, orderIds}}`; resultCode is M-Pesa's STK ResultCode as a string ("0",
 *   "1032", …) and null while pending; receiptNumber is null unless paid.
 * - callback: POST to callbackUrl `{requestReferenceId, orderIds, status, resultCode, resultDesc,
 *   receiptNumber, amount, phone}` (same vocabulary), unsigned like Daraja's.
 */

import { mpesaReceipt } from './daraja.js'
import * as http from './http-kit.js'
import { magicPhoneOutcome, REFUSED_CREDENTIAL } from './magic.js'
import type { SimState } from './state.js'
import type { Outcome } from './types.js'

interface KcbTxn {
  requestReferenceId: string
  id: string
  phone: string
  amount: number
  orderIds: string[]
  callbackUrl: string
  outcome: Outcome
  status: 'PENDING' | 'SUCCESS' | 'FAILED'
  resultCode: string | null
  resultDesc: string
  receiptNumber: string | null
}

const RESULTS: Partial<Record<Outcome, [string, string]>> = {
  insufficient_funds: ['1', 'The balance is insufficient for the transaction.'],
  rule_limited: ['17', 'Rule limited.'],
  cancelled: ['1032', 'Request cancelled by user'],
  unreachable: ['1037', 'DS timeout user cannot be reached'],
  wrong_pin: ['2001', 'The initiator information is invalid.'],
}

const failed = (status: number, errorCode: string, message: string) =>
  http.json(status, { status: 'FAILED', errorCode, message })

export function kcbRoutes(state: SimState): http.Route[] {
  const txns = () => state.store('kcb', () => new Map<string, KcbTxn>())

  const unauthorised = (req: http.SimRequest) => {
    const key = http.headerOf(req.headers, 'x-authorization')?.trim()
    return !key || key === REFUSED_CREDENTIAL
      ? failed(401, 'UNAUTHORIZED', 'Unauthorized')
      : undefined
  }

  const view = (t: KcbTxn) => ({
    requestReferenceId: t.requestReferenceId,
    status: t.status,
    resultCode: t.resultCode,
    resultDesc: t.resultDesc,
    receiptNumber: t.receiptNumber,
    amount: t.amount,
    orderIds: t.orderIds,
  })

  function act(t: KcbTxn): void {
    const result = RESULTS[t.outcome]
    if (result) {
      t.status = 'FAILED'
      ;[t.resultCode, t.resultDesc] = result
    } else {
      t.status = 'SUCCESS'
      t.resultCode = '0'
      t.resultDesc = 'The service request is processed successfully.'
      t.receiptNumber = mpesaReceipt()
      state.charge({
        gateway: 'mpesa-kcb',
        reference: t.requestReferenceId,
        receipt: t.receiptNumber,
        attemptRef: t.orderIds[0],
        phone: t.phone,
        amount: String(t.amount),
        currency: 'KES',
      })
    }
    const body = JSON.stringify({ ...view(t), phone: t.phone })
    if (t.outcome === 'lost_callback') return
    if (t.outcome === 'late_callback') {
      state.later(
        state.timings.lateCallbackMs,
        () => void state.deliver('mpesa-kcb', t.callbackUrl, body),
      )
      return
    }
    for (let i = 0; i < (t.outcome === 'duplicate_callback' ? 3 : 1); i++)
      void state.deliver('mpesa-kcb', t.callbackUrl, body)
  }

  function push(req: http.SimRequest): http.SimReply {
    const denied = unauthorised(req)
    if (denied) return denied
    const b = http.parseJsonBody(req.raw)
    if (!b) return failed(400, 'INVALID_REQUEST', 'the body must be JSON')
    const bad = (field: string) => failed(400, 'INVALID_REQUEST', `invalid ${field}`)
    const amount = http.wholeNumber(b['amount'])
    if (amount === undefined || amount < 1 || amount > 250_000) return bad('amount')
    const phone = String(b['phone'] ?? '')
    if (!/^254(7|1)\d{8}$/.test(phone)) return bad('phone')
    if (typeof b['type'] !== 'string' || !b['type']) return bad('type')
    if (typeof b['externalOrigin'] !== 'string' || !b['externalOrigin'])
      return bad('externalOrigin')
    const orderIds = b['orderIds']
    if (
      !Array.isArray(orderIds) ||
      orderIds.length === 0 ||
      !orderIds.every((o) => typeof o === 'string' && o)
    )
      return bad('orderIds')
    if (b['batchId'] !== undefined && typeof b['batchId'] !== 'string') return bad('batchId')
    if (!http.acceptableCallbackUrl(b['callbackUrl'])) return bad('callbackUrl')
    if (b['currency'] !== undefined && b['currency'] !== 'KES')
      return failed(400, 'UNSUPPORTED_CURRENCY', 'KCB M-Pesa collects KES only')

    const outcome = state.takeScript('mpesa-kcb') ?? magicPhoneOutcome(phone) ?? 'success'
    switch (outcome) {
      case 'http_500':
        return failed(500, 'INTERNAL_ERROR', 'Internal Server Error: the request was not processed')
      case 'http_503':
        return failed(
          503,
          'SERVICE_UNAVAILABLE',
          'Service Unavailable: the request was not processed, try again later',
        )
      case 'connection_reset':
        return http.RESET
      case 'subscriber_lock':
        return failed(
          409,
          'SUBSCRIBER_LOCKED',
          'Unable to lock subscriber, a transaction is already in process',
        )
      case 'spike_arrest':
        return http.json(429, { status: 'ERROR', message: 'Too many requests' })
    }
    const t: KcbTxn = {
      requestReferenceId: `KCB${http.randomAlnum(12)}`,
      id: http.randomHex(12),
      phone,
      amount,
      orderIds: orderIds as string[],
      callbackUrl: String(b['callbackUrl']),
      outcome,
      status: 'PENDING',
      resultCode: null,
      resultDesc: 'The transaction is being processed',
      receiptNumber: null,
    }
    txns().set(t.requestReferenceId, t)
    state.later(state.timings.callbackDelayMs, () => act(t))
    const accepted = http.json(200, {
      status: 'SUCCESS',
      message: 'STK push sent',
      data: { requestReferenceId: t.requestReferenceId, id: t.id, status: 'PENDING' },
    })
    return state.answer(outcome, accepted)
  }

  function status(req: http.SimRequest): http.SimReply {
    const denied = unauthorised(req)
    if (denied) return denied
    const t = txns().get(decodeURIComponent(req.params[0] ?? ''))
    if (!t) return failed(404, 'NOT_FOUND', 'Unknown requestReferenceId')
    return http.json(200, { data: view(t) })
  }

  function statusByOrder(req: http.SimRequest): http.SimReply {
    const denied = unauthorised(req)
    if (denied) return denied
    const orderId = req.query.get('orderId') ?? ''
    const t = [...txns().values()].find((x) => x.orderIds.includes(orderId))
    if (!t) return failed(404, 'NOT_FOUND', 'No payment for that order id')
    return http.json(200, { data: view(t) })
  }

  return [
    http.route('POST', /^\/api\/v1\/payments\/initiate_kcb_stk_push$/, push),
    http.route('GET', /^\/api\/v1\/payments\/status$/, statusByOrder),
    http.route('GET', /^\/api\/v1\/payments\/status\/([^/]+)$/, status),
  ]
}
