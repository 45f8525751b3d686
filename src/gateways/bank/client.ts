import { createHmac, timingSafeEqual } from 'node:crypto'
import { validationError } from '../../core/errors.js'
import { currency } from '../../core/money/currency.js'
import * as port from '../../core/payments/gateway-port.js'
import { type AdapterConfig, configReader, readTimeoutOf } from '../config.js'
import type { GatewayDeps } from '../deps.js'
import { asQueryOutcome, header, isRecord, outcomeFor, str, transportOutcome } from '../outcomes.js'
import { gatewayCaller, jsonBody } from '../timed-request.js'
import { BANK_CODES } from './codes.js'

export const BANK_TOLERANCE_S = 300

/**
 * `X-Bank-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`, like Stripe's: the
 * timestamp must be within 300 s and the comparison is constant-time.
 */
export function verifyBankSignature(
  rawBody: string,
  headerValue: string | undefined,
  secret: string,
  nowMs: number,
): boolean {
  if (!headerValue || !secret) return false
  const parts = Object.fromEntries(
    headerValue.split(',').map((p) => {
      const i = p.indexOf('=')
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()]
    }),
  )
  const t = parts['t']
  const v1 = parts['v1']
  if (!t || !/^\d{1,12}$/.test(t) || !v1 || !/^[0-9a-f]{64}$/i.test(v1)) return false
  if (Math.abs(nowMs / 1000 - Number(t)) > BANK_TOLERANCE_S) return false
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`, 'utf8').digest()
  return timingSafeEqual(Buffer.from(v1, 'hex'), expected)
}

export interface TransferRequest {
  /** The settlement batch reference (SETTLEMENT-…), echoed on the bank statement. */
  reference: string
  amountMinor: bigint
  currency: string
  accountNumber: string
  bankCode: string
  narrative: string
  /** Stable per batch, so a resend never pays twice. */
  idempotencyKey: string
}

/** Settlement payouts through our bank transfer API (not a GatewayType: it pays out, not in). */
export interface BankTransferClient {
  transfer(req: TransferRequest): Promise<port.GatewayCallResult>
  query(transferId: string): Promise<port.GatewayCallResult>
  parseCallback(body: unknown): port.ParsedCallback
  verifyCallback(
    rawBody: string,
    headers: Readonly<Record<string, string | undefined>>,
    nowMs: number,
  ): boolean
  testCredentials(): Promise<port.CredentialCheck>
}

function transferOutcome(
  t: Record<string, unknown>,
  refs: port.GatewayRefs = {},
): port.GatewayOutcome {
  const amount = str(t['amount'])
  const status = str(t['status']) ?? ''
  return outcomeFor(
    BANK_CODES,
    `transfer.${status}`,
    str(t['failureReason']),
    { ...refs, gatewayRef: str(t['id']) ?? refs.gatewayRef, secondaryRef: str(t['reference']) },
    status === 'completed' && amount && /^\d+$/.test(amount) ? BigInt(amount) : undefined,
  )
}

/** settings: baseUrl; secrets: apiKey, webhookSecret. */
export function createBankTransferClient(
  config: AdapterConfig,
  deps: GatewayDeps,
): BankTransferClient {
  const cfg = configReader('bank', config)
  const base = cfg.baseUrl()
  const apiKey = cfg.secret('apiKey')
  const webhookSecret = cfg.optionalSecret('webhookSecret')
  const readTimeoutMs = readTimeoutOf(cfg)

  const send = gatewayCaller(
    deps.http,
    base,
    { Authorization: `Bearer ${apiKey}`, Accept: 'application/json' },
    readTimeoutMs,
  )
  const call = (
    method: 'GET' | 'POST',
    path: string,
    body?: Record<string, unknown>,
    idempotencyKey?: string,
  ) => send(method, path, body ? jsonBody(body) : undefined, idempotencyKey)

  function classify(status: number, body: unknown, refs: port.GatewayRefs): port.GatewayOutcome {
    if (status < 300 && isRecord(body) && str(body['status'])) return transferOutcome(body, refs)
    const err = isRecord(body) && isRecord(body['error']) ? body['error'] : undefined
    const code = err ? str(err['code']) : undefined
    if (code) return outcomeFor(BANK_CODES, code, err ? str(err['message']) : undefined, refs)
    return outcomeFor(BANK_CODES, `http.${status}`, `HTTP ${status}`, refs)
  }

  return {
    async transfer(req) {
      const cur = currency(req.currency)
      if (req.amountMinor <= 0n)
        throw validationError('amount_too_small', 'a transfer needs a positive amount')
      const r = await call(
        'POST',
        '/bank/v1/transfers',
        {
          reference: req.reference,
          amount: req.amountMinor.toString(),
          currency: cur.code,
          accountNumber: req.accountNumber,
          bankCode: req.bankCode,
          narrative: req.narrative,
        },
        req.idempotencyKey,
      )
      if (!r.ok) return { outcome: transportOutcome(BANK_CODES, r.err), log: r.log }
      return { outcome: classify(r.status, r.body, {}), log: r.log }
    },

    async query(transferId) {
      const refs = { gatewayRef: transferId }
      const r = await call('GET', `/bank/v1/transfers/${encodeURIComponent(transferId)}`)
      if (!r.ok)
        return { outcome: asQueryOutcome(transportOutcome(BANK_CODES, r.err, refs)), log: r.log }
      return { outcome: asQueryOutcome(classify(r.status, r.body, refs)), log: r.log }
    },

    parseCallback(body) {
      const id = isRecord(body) ? str(body['id']) : undefined
      if (!isRecord(body) || !id || !str(body['status']) || !str(body['reference'])) {
        throw validationError(
          'unknown_callback',
          'the body is not a bank transfer confirmation',
          'expected {id, reference, status, amount, currency, …}',
        )
      }
      const outcome = transferOutcome(body)
      const amount = str(body['amount'])
      return {
        dedupeKey: `bank:${id}`,
        gatewayRef: id,
        attemptRef: str(body['idempotencyKey']),
        outcome,
        amountMinor: amount && /^\d+$/.test(amount) ? BigInt(amount) : undefined,
        currency: str(body['currency']),
      }
    },

    verifyCallback(rawBody, headers, nowMs) {
      return (
        webhookSecret !== undefined &&
        verifyBankSignature(rawBody, header(headers, 'x-bank-signature'), webhookSecret, nowMs)
      )
    },

    async testCredentials() {
      const r = await call('GET', '/bank/v1/transfers/dsh-credential-check')
      if (!r.ok)
        return port.unreachable(`the bank API is unreachable at ${base} (${r.err.message})`)
      if (r.status === 401 || r.status === 403) return port.rejected('the bank refused the API key')
      if (r.status >= 500) return port.unreachable(`the bank answered HTTP ${r.status}`)
      return { ok: true, message: `the bank accepted the API key at ${base}` }
    },
  }
}
