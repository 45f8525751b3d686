/*
 * Our bank transfer API for settlement payouts (OURS, not a real bank's; PRODUCT.md "a bank API
 * (simulated here)"):
 *
 * - POST /bank/v1/transfers, `Authorization: Bearer <key>`, `Idempotency-Key: <key>` (required),
 *   body `{reference, amount, currency, accountNumber, bankCode, narrative}` with `amount` in
 *   minor units as a digit string → 201 `{id, status:"accepted"}`. The same key with the same
 *   body replays the first answer; with another body → 409 `idempotency_conflict`.
 * - GET /bank/v1/transfers/:id → `{id, reference, idempotencyKey, status:"accepted"|"completed"|
 *   "failed", amount, currency, accountNumber, bankCode, narrative, failureReason, completedAt}`.
 * - After the delay, the same record is POSTed to the URL registered with
 *   `POST /__control/webhooks {gateway:"bank", url, secret, apiKey?}` (with apiKey: only the
 *   transfers made with that key, so several branches can share one sandbox), signed
 *   `X-Bank-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`.
 * - Errors: `{error:{code, message}}` with invalid_request (400), unauthorized (401),
 *   not_found (404), idempotency_conflict (409), internal_error (500), service_unavailable (503).
 */
import { createHmac } from 'node:crypto'
import * as http from './http-kit.js'
import { REFUSED_CREDENTIAL } from './magic.js'
import type { SimState } from './state.js'
import type { Outcome } from './types.js'

interface Transfer {
  id: string
  reference: string
  idempotencyKey: string
  status: 'accepted' | 'completed' | 'failed'
  amount: string
  currency: string
  accountNumber: string
  bankCode: string
  narrative: string
  failureReason: string | null
  completedAt: string | null
}

/** What the sandbox keeps beside a transfer: the API key it was made with (never shown). */
const apiKeys = new WeakMap<Transfer, string>()

interface BankStore {
  transfers: Map<string, Transfer>
  idempotency: http.IdempotencyMemory
}

const bankError = (status: number, code: string, message: string) =>
  http.json(status, { error: { code, message } })

export function bankRoutes(state: SimState): http.Route[] {
  const store = () =>
    state.store<BankStore>('bank', () => ({ transfers: new Map(), idempotency: new Map() }))

  function authorised(req: http.SimRequest): { key: string } | http.SimReply {
    const key = http.bearer(req.headers)
    if (!key || key === REFUSED_CREDENTIAL)
      return bankError(401, 'unauthorized', 'The API key was refused.')
    return { key }
  }

  function settle(t: Transfer, outcome: Outcome): void {
    if (outcome === 'declined') {
      t.status = 'failed'
      t.failureReason = 'Beneficiary account closed'
    } else {
      t.status = 'completed'
      state.charge({
        gateway: 'bank',
        reference: t.id,
        attemptRef: t.idempotencyKey,
        account: t.accountNumber,
        payeeReference: t.reference,
        narrative: t.narrative,
        amount: t.amount,
        currency: t.currency,
      })
    }
    t.completedAt = state.nowIso()
    const hook = state.webhook('bank', apiKeys.get(t))
    if (!hook || outcome === 'lost_callback') return
    const body = JSON.stringify(t)
    const post = () => {
      const ts = Math.floor(state.now() / 1000)
      const v1 = createHmac('sha256', hook.secret).update(`${ts}.${body}`, 'utf8').digest('hex')
      void state.deliver('bank', hook.url, body, { 'x-bank-signature': `t=${ts},v1=${v1}` })
    }
    if (outcome === 'late_callback') state.later(state.timings.lateCallbackMs, post)
    else for (let i = 0; i < (outcome === 'duplicate_callback' ? 3 : 1); i++) post()
  }

  function create(b: Record<string, unknown>, key: string, apiKey: string): http.SimReply {
    const s = (k: string) => (typeof b[k] === 'string' ? (b[k] as string) : undefined)
    const reference = s('reference')
    if (!reference || reference.length > 35)
      return bankError(400, 'invalid_request', 'reference must be 1-35 characters')
    const amount = s('amount')
    if (!amount || !/^[1-9]\d{0,17}$/.test(amount))
      return bankError(
        400,
        'invalid_request',
        'amount must be a positive whole number of minor units, as a string',
      )
    const currency = s('currency')
    if (!currency || !/^[A-Z]{3}$/.test(currency))
      return bankError(400, 'invalid_request', 'currency must be an ISO 4217 code')
    const accountNumber = s('accountNumber')
    if (!accountNumber || !/^[A-Za-z0-9-]{4,34}$/.test(accountNumber))
      return bankError(
        400,
        'invalid_request',
        'accountNumber must be 4-34 letters, digits or dashes',
      )
    const bankCode = s('bankCode')
    if (!bankCode) return bankError(400, 'invalid_request', 'bankCode is required')
    const narrative = s('narrative') ?? ''
    if (narrative.length > 140)
      return bankError(400, 'invalid_request', 'narrative must be at most 140 characters')

    const outcome = state.takeScript('bank') ?? 'success'
    switch (outcome) {
      case 'http_500':
        return bankError(500, 'internal_error', 'Internal error')
      case 'http_503':
        return bankError(503, 'service_unavailable', 'Service unavailable')
      case 'connection_reset':
        return http.RESET
    }
    const t: Transfer = {
      id: `trf_${http.randomAlnum(20)}`,
      reference,
      idempotencyKey: key,
      status: 'accepted',
      amount,
      currency,
      accountNumber,
      bankCode,
      narrative,
      failureReason: null,
      completedAt: null,
    }
    apiKeys.set(t, apiKey)
    store().transfers.set(t.id, t)
    state.later(state.timings.callbackDelayMs, () => settle(t, outcome))
    const reply = http.json(201, { id: t.id, status: 'accepted' })
    return state.answer(outcome, reply)
  }

  function createTransfer(req: http.SimRequest): http.SimReply {
    const auth = authorised(req)
    if ('kind' in auth) return auth
    const key = http.headerOf(req.headers, 'idempotency-key')?.trim()
    if (!key) return bankError(400, 'invalid_request', 'the Idempotency-Key header is required')
    const b = http.parseJsonBody(req.raw)
    if (!b) return bankError(400, 'invalid_request', 'the body must be a JSON object')
    return http.idempotent(
      store().idempotency,
      `${auth.key}\n${key}`,
      http.bodyFingerprint(b),
      () =>
        bankError(
          409,
          'idempotency_conflict',
          'this Idempotency-Key was used for another transfer',
        ),
      () => create(b, key, auth.key),
    )
  }

  function getTransfer(req: http.SimRequest): http.SimReply {
    const auth = authorised(req)
    if ('kind' in auth) return auth
    const t = store().transfers.get(decodeURIComponent(req.params[0] ?? ''))
    return t ? http.json(200, { ...t }) : bankError(404, 'not_found', 'no such transfer')
  }

  return [
    http.route('POST', /^\/bank\/v1\/transfers$/, createTransfer),
    http.route('GET', /^\/bank\/v1\/transfers\/([^/]+)$/, getTransfer),
  ]
}
