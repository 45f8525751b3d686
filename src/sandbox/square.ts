import { createHmac, randomUUID } from 'node:crypto'
import * as http from './http-kit.js'
import { MAGIC_CARDS, REFUSED_CREDENTIAL } from './magic.js'
import type { SimState } from './state.js'
import type { Outcome } from './types.js'

interface Payment {
  id: string
  created_at: string
  updated_at: string
  amount_money: { amount: number; currency: string }
  total_money: { amount: number; currency: string }
  status: 'COMPLETED' | 'FAILED'
  source_type: string
  location_id: string
  reference_id?: string
  note?: string
  receipt_number: string
  receipt_url: string
}

interface SquareStore {
  payments: Map<string, Payment>
  idempotency: http.IdempotencyMemory
}

const squareError = (
  status: number,
  category: string,
  code: string,
  detail: string,
  extra: Record<string, unknown> = {},
) => http.json(status, { errors: [{ category, code, detail }], ...extra })
const invalid = (code: string, detail: string, field?: string) =>
  http.json(400, {
    errors: [{ category: 'INVALID_REQUEST_ERROR', code, detail, ...(field ? { field } : {}) }],
  })

const DECLINE_CODES: Partial<Record<Outcome, string>> = {
  declined: 'GENERIC_DECLINE',
  insufficient_funds: 'INSUFFICIENT_FUNDS',
}

/** Square CreatePayment / GetPayment / ListPayments / RetrieveLocation and signed webhooks (§4). */
export function squareRoutes(state: SimState): http.Route[] {
  const store = () =>
    state.store<SquareStore>('square', () => ({ payments: new Map(), idempotency: new Map() }))

  function authorised(req: http.SimRequest): { token: string } | http.SimReply {
    const token = http.bearer(req.headers)
    if (!token || token === REFUSED_CREDENTIAL)
      return squareError(
        401,
        'AUTHENTICATION_ERROR',
        'UNAUTHORIZED',
        'This request could not be authorized.',
      )
    return { token }
  }

  function notify(p: Payment, outcome: Outcome): void {
    const hook = state.webhook('square')
    if (!hook || outcome === 'lost_callback') return
    const body = JSON.stringify({
      merchant_id: 'MLSANDBOX000',
      type: 'payment.updated',
      event_id: randomUUID(),
      created_at: state.nowIso(),
      data: { type: 'payment', id: p.id, object: { payment: { ...p } } },
    })
    const signature = createHmac('sha256', hook.secret)
      .update(hook.url + body, 'utf8')
      .digest('base64')
    const delay =
      state.timings.callbackDelayMs +
      (outcome === 'late_callback' ? state.timings.lateCallbackMs : 0)
    state.later(delay, () => {
      for (let i = 0; i < (outcome === 'duplicate_callback' ? 3 : 1); i++)
        void state.deliver('square', hook.url, body, { 'x-square-hmacsha256-signature': signature })
    })
  }

  function create(b: Record<string, unknown>): http.SimReply {
    const source = b['source_id']
    if (typeof source !== 'string' || !source)
      return invalid('MISSING_REQUIRED_PARAMETER', 'Missing required parameter.', 'source_id')
    const money = b['amount_money'] as Record<string, unknown> | undefined
    const amount = money?.['amount']
    const currency = money?.['currency']
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 1)
      return invalid(
        'INVALID_VALUE',
        'amount_money.amount must be a positive integer',
        'amount_money.amount',
      )
    if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency))
      return invalid(
        'INVALID_VALUE',
        'amount_money.currency must be an ISO 4217 code',
        'amount_money.currency',
      )
    const ref = b['reference_id']
    if (ref !== undefined && (typeof ref !== 'string' || ref.length > 40))
      return invalid('VALUE_TOO_LONG', 'reference_id must be at most 40 characters', 'reference_id')
    if (source === 'EXTERNAL' && typeof b['external_details'] !== 'object')
      return invalid(
        'MISSING_REQUIRED_PARAMETER',
        'external_details is required for EXTERNAL payments',
        'external_details',
      )
    if (source === 'CASH' && typeof b['cash_details'] !== 'object')
      return invalid(
        'MISSING_REQUIRED_PARAMETER',
        'cash_details is required for CASH payments',
        'cash_details',
      )
    if (!MAGIC_CARDS[source] && !source.startsWith('cnon:') && !source.startsWith('ccof:'))
      return invalid('NOT_FOUND', `Source ${source} was not found.`, 'source_id')

    const outcome = state.takeScript('square') ?? MAGIC_CARDS[source]?.outcome ?? 'success'
    switch (outcome) {
      case 'http_500':
        return squareError(500, 'API_ERROR', 'INTERNAL_SERVER_ERROR', 'An internal error occurred.')
      case 'http_503':
        return squareError(
          503,
          'API_ERROR',
          'SERVICE_UNAVAILABLE',
          'The service is temporarily unavailable.',
        )
      case 'connection_reset':
        return http.RESET
    }
    const now = state.nowIso()
    const id = http.randomAlnum(22)
    const declineCode = DECLINE_CODES[outcome]
    const p: Payment = {
      id,
      created_at: now,
      updated_at: now,
      amount_money: { amount, currency },
      total_money: { amount, currency },
      status: declineCode ? 'FAILED' : 'COMPLETED',
      source_type: source === 'EXTERNAL' || source === 'CASH' ? source : 'CARD',
      location_id: typeof b['location_id'] === 'string' ? b['location_id'] : 'LSANDBOX',
      ...(typeof ref === 'string' ? { reference_id: ref } : {}),
      ...(typeof b['note'] === 'string' ? { note: b['note'] } : {}),
      receipt_number: id.slice(0, 4),
      receipt_url: `https://squareupsandbox.com/receipt/preview/${id}`,
    }
    store().payments.set(id, p)
    if (declineCode) {
      notify(p, 'success')
      return squareError(
        400,
        'PAYMENT_METHOD_ERROR',
        declineCode,
        `Authorization error: '${declineCode}'`,
        { payment: { ...p } },
      )
    }
    state.charge({
      gateway: 'square',
      reference: id,
      receipt: p.receipt_number,
      attemptRef: String(b['idempotency_key']),
      amount: String(amount),
      currency,
    })
    notify(p, outcome)
    const reply = http.json(200, { payment: { ...p } })
    return state.answer(outcome, reply)
  }

  function createPayment(req: http.SimRequest): http.SimReply {
    const auth = authorised(req)
    if ('kind' in auth) return auth
    const b = http.parseJsonBody(req.raw)
    if (!b) return invalid('BAD_REQUEST', 'The body must be a JSON object.')
    const key = b['idempotency_key']
    if (typeof key !== 'string' || !key)
      return invalid('MISSING_REQUIRED_PARAMETER', 'Missing required parameter.', 'idempotency_key')
    if (key.length > 45)
      return invalid(
        'VALUE_TOO_LONG',
        'idempotency_key must be at most 45 characters',
        'idempotency_key',
      )
    return http.idempotent(
      store().idempotency,
      `${auth.token}\n${key}`,
      http.bodyFingerprint(b),
      () =>
        invalid(
          'IDEMPOTENCY_KEY_REUSED',
          'The idempotency key can only be retried with the same request data.',
          'idempotency_key',
        ),
      () => create(b),
    )
  }

  function getPayment(req: http.SimRequest): http.SimReply {
    const auth = authorised(req)
    if ('kind' in auth) return auth
    const p = store().payments.get(decodeURIComponent(req.params[0] ?? ''))
    if (!p) return squareError(404, 'INVALID_REQUEST_ERROR', 'NOT_FOUND', 'Could not find payment.')
    return http.json(200, { payment: { ...p } })
  }

  function listPayments(req: http.SimRequest): http.SimReply {
    const auth = authorised(req)
    if ('kind' in auth) return auth
    const location = req.query.get('location_id')
    const list = [...store().payments.values()].filter(
      (p) => !location || p.location_id === location,
    )
    list.sort((a, b) => b.created_at.localeCompare(a.created_at))
    return http.json(200, { payments: list.slice(0, 100) })
  }

  function getLocation(req: http.SimRequest): http.SimReply {
    const auth = authorised(req)
    if ('kind' in auth) return auth
    const id = decodeURIComponent(req.params[0] ?? '')
    return http.json(200, {
      location: {
        id,
        name: 'Sandbox location',
        status: 'ACTIVE',
        country: 'KE',
        currency: 'KES',
        capabilities: [],
      },
    })
  }

  return [
    http.route('POST', /^\/v2\/payments$/, createPayment),
    http.route('GET', /^\/v2\/payments$/, listPayments),
    http.route('GET', /^\/v2\/payments\/([^/]+)$/, getPayment),
    http.route('GET', /^\/v2\/locations\/([^/]+)$/, getLocation),
  ]
}
