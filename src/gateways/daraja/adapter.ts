import { configError, validationError } from '../../core/errors.js'
import { parseAmount } from '../../core/money/parse.js'
import * as port from '../../core/payments/gateway-port.js'
import { mpesaPush } from '../amounts.js'
import { type AdapterConfig, configReader, readTimeoutOf } from '../config.js'
import type { GatewayDeps } from '../deps.js'
import { type HttpResponse, type TransportError, toTransportError } from '../http.js'
import {
  asQueryOutcome,
  attemptLog,
  explainedOutcome,
  isRecord,
  type LoggedRequest,
  outcomeFor,
  parseJson,
  str,
  transportCode,
  unknownOutcome,
} from '../outcomes.js'
import { nairobiTimestamp } from '../time.js'
import { accountReferenceFor, transactionDesc } from './account-ref.js'
import { parseC2BConfirmation, parseStkCallback } from './callback.js'
import { DARAJA_CODES, darajaErrorKey } from './codes.js'

/** Daraja's error envelope `{requestId, errorCode, errorMessage}`. */
function envelopeOf(body: unknown): { errorCode: string; errorMessage: string } | undefined {
  if (!isRecord(body)) return undefined
  const errorCode = str(body['errorCode'])
  if (!errorCode) return undefined
  return { errorCode, errorMessage: str(body['errorMessage']) ?? '' }
}

class TokenFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly response: unknown,
  ) {
    super(message)
  }
}

type Sent =
  | { kind: 'http'; req: LoggedRequest; res: HttpResponse; body: unknown; refreshed: boolean }
  | { kind: 'transport'; req: LoggedRequest; err: TransportError; beforeSend: boolean }
  | { kind: 'token'; req: LoggedRequest; failure: TokenFailure }

const responseLog = (sent: Sent): unknown =>
  sent.kind === 'http'
    ? {
        status: sent.res.status,
        body: sent.body ?? sent.res.text.slice(0, 2000),
        oauthRetried: sent.refreshed,
      }
    : sent.kind === 'transport'
      ? {
          error: sent.err.code,
          message: sent.err.message,
          phase: sent.beforeSend ? 'oauth' : 'call',
        }
      : {
          oauthError: sent.failure.code,
          message: sent.failure.message,
          response: sent.failure.response,
        }

export interface C2BRegistration {
  confirmationUrl: string
  validationUrl: string
  /** What M-Pesa does when validation cannot be reached (sentence case, exactly). */
  responseType?: 'Completed' | 'Cancelled'
  /** Daraja v3 lists /mpesa/c2b/v2/registerurl; v1 is the classic path. */
  version?: 'v1' | 'v2'
}

export interface DarajaAdapter extends port.GatewayAdapter {
  /** Registers the C2B confirmation/validation URLs for the shortcode (a one-time call in production). */
  registerC2BUrls(reg: C2BRegistration): Promise<port.GatewayCallResult>
}

/**
 * Safaricom Daraja: OAuth, STK push (M-Pesa Express), STK Query, callbacks and C2B confirmations
 * (GATEWAYS.md §1). One token per consumer key, shared through deps.tokens.
 */
export function createDarajaAdapter(config: AdapterConfig, deps: GatewayDeps): DarajaAdapter {
  const cfg = configReader('mpesa', config)
  const base = cfg.baseUrl()
  const shortcode = cfg.setting('shortcode')
  const accountType = cfg.optionalSetting('accountType') ?? 'paybill'
  if (accountType !== 'till' && accountType !== 'paybill')
    throw configError(
      'gateway_config_invalid',
      `mpesa accountType must be till or paybill, not "${accountType}"`,
    )
  const till = accountType === 'till'
  const partyB = till
    ? cfg.setting('tillNumber')
    : (cfg.optionalSetting('paybillNumber') ?? shortcode)
  const transactionType = till ? 'CustomerBuyGoodsOnline' : 'CustomerPayBillOnline'
  const passkey = cfg.secret('passkey')
  const consumerKey = cfg.secret('consumerKey')
  const consumerSecret = cfg.secret('consumerSecret')
  const password = (timestamp: string) =>
    Buffer.from(`${shortcode}${passkey}${timestamp}`, 'utf8').toString('base64')
  const tokenUrl = `${base}/oauth/v1/generate?grant_type=client_credentials`
  const readTimeoutMs = readTimeoutOf(cfg)
  const timeout = readTimeoutMs === undefined ? {} : { readTimeoutMs }

  async function fetchToken() {
    const res = await deps.http.request({
      method: 'GET',
      url: tokenUrl,
      headers: {
        Authorization: `Basic ${Buffer.from(`${consumerKey}:${consumerSecret}`, 'utf8').toString('base64')}`,
      },
      ...timeout,
    })
    const body = parseJson(res.text)
    if (res.status === 200 && isRecord(body) && typeof body['access_token'] === 'string') {
      // expires_in is a number in the v3 docs and a string in older ones: accept both.
      const announced = Number(str(body['expires_in']) ?? '3599')
      return {
        token: body['access_token'],
        expiresInS: Number.isFinite(announced) && announced > 0 ? announced : 3599,
      }
    }
    const env = envelopeOf(body)
    throw new TokenFailure(
      env ? env.errorCode : `oauth.http.${res.status}`,
      env?.errorMessage || `OAuth answered HTTP ${res.status}`,
      { status: res.status, body: body ?? res.text.slice(0, 500) },
    )
  }

  /** POSTs with a cached token; on 404.001.03 fetches a new token and retries exactly once. */
  async function post(path: string, payload: Record<string, unknown>): Promise<Sent> {
    const req: LoggedRequest = { method: 'POST', url: `${base}${path}`, body: payload }
    let refreshed = false
    for (;;) {
      let token: string
      try {
        token = await deps.tokens.get(base, consumerKey, fetchToken)
      } catch (e) {
        if (e instanceof TokenFailure) return { kind: 'token', req, failure: e }
        return { kind: 'transport', req, err: toTransportError(e), beforeSend: true }
      }
      let res: HttpResponse
      try {
        res = await deps.http.request({
          method: 'POST',
          url: `${base}${path}`,
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify(payload),
          ...timeout,
        })
      } catch (e) {
        return { kind: 'transport', req, err: toTransportError(e), beforeSend: false }
      }
      const body = parseJson(res.text)
      // A token error means Daraja refused the call before doing anything: safe to resend once.
      if (!refreshed && envelopeOf(body)?.errorCode === '404.001.03') {
        deps.tokens.invalidate(base, consumerKey, token)
        refreshed = true
        continue
      }
      return { kind: 'http', req, res, body, refreshed }
    }
  }

  /** Outcomes every call shares: OAuth failures, transport, the error envelope, bare HTTP. */
  function common(sent: Sent, refs: port.GatewayRefs): port.GatewayOutcome | undefined {
    if (sent.kind === 'token')
      return outcomeFor(DARAJA_CODES, sent.failure.code, sent.failure.message, refs)
    if (sent.kind === 'transport')
      return sent.beforeSend
        ? outcomeFor(DARAJA_CODES, 'oauth.transport', sent.err.message, refs)
        : explainedOutcome(DARAJA_CODES, transportCode(sent.err.code), sent.err.message, refs)
    const env = envelopeOf(sent.body)
    if (env)
      return outcomeFor(
        DARAJA_CODES,
        darajaErrorKey(env.errorCode, env.errorMessage),
        env.errorMessage,
        refs,
      )
    return undefined
  }

  const httpOutcome = (res: HttpResponse, refs: port.GatewayRefs) =>
    explainedOutcome(DARAJA_CODES, `http.${res.status}`, `HTTP ${res.status}`, refs)

  function timing() {
    const timestamp = nairobiTimestamp(deps.clock.now()) // one clock reading for both fields
    return { Timestamp: timestamp, Password: password(timestamp) }
  }

  const adapter: DarajaAdapter = {
    type: 'mpesa',

    async initiate(req: port.InitiateRequest): Promise<port.GatewayCallResult> {
      const { amount, phone } = mpesaPush(req)
      const t = timing()
      const payload = {
        BusinessShortCode: shortcode,
        Password: t.Password,
        Timestamp: t.Timestamp,
        TransactionType: transactionType,
        Amount: amount,
        PartyA: phone,
        PartyB: partyB,
        PhoneNumber: phone,
        CallBackURL: req.callbackUrl,
        AccountReference: accountReferenceFor(req.attemptRef),
        TransactionDesc: transactionDesc(req.description),
      }
      const started = performance.now()
      const sent = await post('/mpesa/stkpush/v1/processrequest', payload)
      const log = attemptLog(sent.req, responseLog(sent), started, performance.now())
      let outcome = common(sent, {})
      if (!outcome && sent.kind === 'http') {
        const b = sent.body
        if (
          isRecord(b) &&
          str(b['ResponseCode']) === '0' &&
          typeof b['CheckoutRequestID'] === 'string'
        ) {
          // Accepted (whatever the HTTP status): the customer now has a prompt.
          outcome = {
            status: 'pending',
            refs: { gatewayRef: b['CheckoutRequestID'], secondaryRef: str(b['MerchantRequestID']) },
            code: '0',
            message: str(b['CustomerMessage']) ?? str(b['ResponseDescription']) ?? 'accepted',
          }
        } else if (isRecord(b) && b['ResponseCode'] !== undefined) {
          outcome = unknownOutcome(
            `response.${str(b['ResponseCode'])}`,
            str(b['ResponseDescription']) ?? '',
          )
        } else outcome = httpOutcome(sent.res, {})
      }
      return { outcome: outcome as port.GatewayOutcome, log }
    },

    async query(_attemptRef: string, refs: port.GatewayRefs): Promise<port.GatewayCallResult> {
      const url = `${base}/mpesa/stkpushquery/v1/query`
      if (!refs.gatewayRef) {
        const now = performance.now()
        return {
          outcome: outcomeFor(DARAJA_CODES, 'dsh.no_checkout_request_id', undefined, refs),
          log: attemptLog({ method: 'POST', url }, { skipped: 'no CheckoutRequestID' }, now, now),
        }
      }
      const t = timing()
      const payload = { BusinessShortCode: shortcode, ...t, CheckoutRequestID: refs.gatewayRef }
      const started = performance.now()
      const sent = await post('/mpesa/stkpushquery/v1/query', payload)
      const log = attemptLog(sent.req, responseLog(sent), started, performance.now())
      let outcome = common(sent, refs)
      if (!outcome && sent.kind === 'http') {
        const b = sent.body
        if (isRecord(b) && b['ResultCode'] !== undefined && str(b['ResponseCode']) === '0') {
          outcome = outcomeFor(DARAJA_CODES, str(b['ResultCode'])!.trim(), str(b['ResultDesc']), {
            ...refs,
            secondaryRef: str(b['MerchantRequestID']) ?? refs.secondaryRef,
          })
        } else outcome = httpOutcome(sent.res, refs)
      }
      return { outcome: asQueryOutcome(outcome as port.GatewayOutcome), log }
    },

    parseCallback(body: unknown): port.ParsedCallback {
      const stk = parseStkCallback(body)
      if (stk) {
        const amountMinor =
          stk.amount === undefined ? undefined : parseAmount(stk.amount, 'KES').minor
        const refs = {
          gatewayRef: stk.checkoutRequestId,
          secondaryRef: stk.merchantRequestId,
          receiptNumber: stk.receiptNumber,
        }
        return {
          dedupeKey: `mpesa:${stk.checkoutRequestId}`,
          gatewayRef: stk.checkoutRequestId,
          // Daraja echoes no reference of ours: match on CheckoutRequestID (or amount + phone).
          attemptRef: undefined,
          outcome: outcomeFor(DARAJA_CODES, stk.resultCode, stk.resultDesc, refs, amountMinor),
          amountMinor,
          currency: 'KES',
          payer: stk.phoneNumber,
        }
      }
      const c2b = parseC2BConfirmation(body)
      if (c2b) {
        const amountMinor = parseAmount(c2b.transAmount, 'KES').minor
        const refs = { gatewayRef: c2b.transId, receiptNumber: c2b.transId }
        return {
          dedupeKey: `mpesa:${c2b.transId}`,
          gatewayRef: c2b.transId,
          attemptRef: undefined,
          outcome: outcomeFor(
            DARAJA_CODES,
            '0',
            `C2B ${c2b.transactionType || 'payment'} confirmed`,
            refs,
            amountMinor,
          ),
          amountMinor,
          currency: 'KES',
          shortcode: c2b.businessShortCode,
        }
      }
      throw validationError(
        'unknown_callback',
        'the body is neither a Daraja STK callback nor a C2B confirmation',
        'Daraja STK callbacks look like {"Body":{"stkCallback":{…}}}; C2B confirmations carry TransID',
      )
    },

    // Daraja signs nothing (GATEWAYS.md §1.10): the daemon checks the secret path token.
    verifyCallback: () => true,

    async testCredentials(): Promise<port.CredentialCheck> {
      try {
        await deps.tokens.get(base, consumerKey, fetchToken, { force: true })
        return { ok: true, message: `Daraja issued a token at ${base}` }
      } catch (e) {
        if (e instanceof TokenFailure) {
          const rejected = /^(400|401|403)/.test(e.code) || /^oauth\.http\.4/.test(e.code)
          return rejected
            ? port.rejected(`Daraja refused the consumer key/secret (${e.code}: ${e.message})`)
            : port.unreachable(`Daraja OAuth failed (${e.code}: ${e.message})`)
        }
        const err = toTransportError(e)
        return port.unreachable(`Daraja is unreachable at ${base} (${err.message})`)
      }
    },

    async registerC2BUrls(reg: C2BRegistration): Promise<port.GatewayCallResult> {
      const payload = {
        ShortCode: shortcode,
        ResponseType: reg.responseType ?? 'Completed',
        ConfirmationURL: reg.confirmationUrl,
        ValidationURL: reg.validationUrl,
      }
      const started = performance.now()
      const sent = await post(`/mpesa/c2b/${reg.version ?? 'v1'}/registerurl`, payload)
      const log = attemptLog(sent.req, responseLog(sent), started, performance.now())
      let outcome = common(sent, {})
      if (!outcome && sent.kind === 'http') {
        const b = sent.body
        outcome =
          isRecord(b) && str(b['ResponseCode']) === '0'
            ? {
                status: 'succeeded',
                refs: {},
                code: '0',
                message: str(b['ResponseDescription']) ?? 'registered',
              }
            : httpOutcome(sent.res, {})
      }
      return { outcome: outcome as port.GatewayOutcome, log }
    },
  }
  return adapter
}
