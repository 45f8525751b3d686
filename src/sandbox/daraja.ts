import * as http from './http-kit.js'
import { magicPhoneOutcome, REFUSED_CREDENTIAL } from './magic.js'
import type { SimState } from './state.js'
import type { Outcome } from './types.js'

/** The public sandbox shortcode and its passkey (decoded from Daraja's sample Password). */
export const SANDBOX_SHORTCODE = '174379'
export const SANDBOX_PASSKEY = 'bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919'
const TOKEN_LIFETIME_S = 3599
const TIMESTAMP_TOLERANCE_MS = 10 * 60_000
const MSISDN = /^254(7|1)\d{8}$/

interface Txn {
  merchantRequestId: string
  checkoutRequestId: string
  shortcode: string
  phone: string
  amount: number
  accountReference: string
  callbackUrl: string
  outcome: Outcome
  resultCode?: number
  resultDesc?: string
  receipt?: string
  transactionDate?: string
}

interface DarajaStore {
  tokens: Map<string, { expiresAtMs: number }>
  passkeys: Map<string, string>
  txns: Map<string, Txn>
  c2b: Map<string, { confirmationUrl: string; validationUrl: string; responseType: string }>
}

const RESULT_DESC: Readonly<Record<number, string>> = {
  0: 'The service request is processed successfully.',
  1: 'The balance is insufficient for the transaction.',
  17: 'Rule limited: the same amount was requested from this customer within 2 minutes.',
  1032: 'Request cancelled by user',
  1037: 'DS timeout user cannot be reached',
  2001: 'The initiator information is invalid.',
  2028: 'The request is not permitted according to product assignment.',
}

/** The STK ResultCode a customer-side outcome produces (undefined: the push itself fails). */
const RESULT_CODE: Partial<Record<Outcome, number>> = {
  success: 0,
  lost_callback: 0,
  duplicate_callback: 0,
  late_callback: 0,
  slow_success: 0,
  insufficient_funds: 1,
  rule_limited: 17,
  cancelled: 1032,
  unreachable: 1037,
  wrong_pin: 2001,
}

/** Daraja's error envelope `{requestId, errorCode, errorMessage}`. */
export const darajaError = (
  status: number,
  errorCode: string,
  errorMessage: string,
): http.SimReply =>
  http.json(status, {
    requestId: `${http.randomDigits(5)}-${http.randomDigits(8)}-1`,
    errorCode,
    errorMessage,
  })

const invalid = (field: string) => darajaError(400, '400.002.02', `Bad Request - Invalid ${field}`)

/** A receipt like NLJ7RT61SV: a letter, then 9 letters or digits. */
export const mpesaReceipt = () => `${http.randomAlnum(1).replace(/\d/, 'Q')}${http.randomAlnum(9)}`

/**
 * Failures of the push itself: the request is not processed and the sandbox charges nothing. The
 * 500 and 503 carry Daraja's own error envelope (not processed: dsh may fail over); a reset says
 * nothing, so dsh must treat it as unknown even though the sandbox charged nothing.
 */
function pushFailure(outcome: Outcome): http.SimReply | undefined {
  switch (outcome) {
    case 'http_500':
      return darajaError(500, '500.003.1001', 'Internal Server Error')
    case 'http_503':
      return darajaError(
        503,
        '500.003.1001',
        'Service Unavailable: the request was not processed, try again later',
      )
    case 'connection_reset':
      return http.RESET
    case 'subscriber_lock':
      return darajaError(
        500,
        '500.001.1001',
        'Unable to lock subscriber, a transaction is already in process for the current subscriber',
      )
    case 'spike_arrest':
      return darajaError(500, '500.003.02', 'Spike Arrest Violation')
    default:
      return undefined
  }
}

const darajaStore = (state: SimState) =>
  state.store<DarajaStore>('daraja', () => ({
    tokens: new Map(),
    passkeys: new Map([[SANDBOX_SHORTCODE, SANDBOX_PASSKEY]]),
    txns: new Map(),
    c2b: new Map(),
  }))

export interface C2BPayment {
  shortcode: string
  amount: unknown
  msisdn: string
  billRefNumber: string
  commandId: string
}

export interface DarajaSim {
  routes: http.Route[]
  /** A customer pays the paybill/till: the confirmation goes to the registered URL. */
  c2bPayment(p: C2BPayment): http.SimReply
  /** Expires every token issued so far; returns how many. */
  expireTokens(): number
  /** The passkey the Password of `shortcode` must be built with. */
  registerPasskey(shortcode: string, passkey: string): void
}

/** Daraja: OAuth, STK push, STK query, C2B register/simulate (GATEWAYS.md §1). */
export function createDarajaSim(state: SimState): DarajaSim {
  const store = () => darajaStore(state)

  /** Bearer token check: an unknown or expired token is HTTP 404 404.001.03. */
  function authorised(req: http.SimRequest): http.SimReply | undefined {
    const token = http.bearer(req.headers)
    const t = token ? store().tokens.get(token) : undefined
    if (!t || t.expiresAtMs <= state.now())
      return darajaError(404, '404.001.03', 'Invalid Access Token')
    // Without a JSON content type Daraja blames the shortcode (FAQ 9).
    if (req.method === 'POST' && !http.isJson(req.headers)) return invalid('BusinessShortCode')
    return undefined
  }

  /** BusinessShortCode, Timestamp and Password, shared by the push and the query. */
  function credentials(body: Record<string, unknown>): http.SimReply | { shortcode: string } {
    const shortcode = String(body['BusinessShortCode'] ?? '')
    if (!/^\d{5,7}$/.test(shortcode)) return invalid('BusinessShortCode')
    const ts =
      typeof body['Timestamp'] === 'string' ? body['Timestamp'] : String(body['Timestamp'] ?? '')
    const at = http.parseNairobiStamp(ts)
    if (at === undefined || Math.abs(at - state.now()) > TIMESTAMP_TOLERANCE_MS)
      return invalid('Timestamp')
    const pw = typeof body['Password'] === 'string' ? body['Password'] : ''
    const decoded = Buffer.from(pw, 'base64').toString('utf8')
    const passkey = store().passkeys.get(shortcode)
    const ok = passkey
      ? decoded === `${shortcode}${passkey}${ts}`
      : // Unknown shortcode: any passkey, but the Password must still be built from this call.
        decoded.startsWith(shortcode) &&
        decoded.endsWith(ts) &&
        decoded.length > shortcode.length + ts.length
    if (!ok) return darajaError(500, '500.001.1001', 'Wrong credentials')
    return { shortcode }
  }

  function act(txn: Txn, pairingOk: boolean): void {
    const code = pairingOk ? (RESULT_CODE[txn.outcome] ?? 0) : 2028
    txn.resultCode = code
    txn.resultDesc = RESULT_DESC[code] ?? 'Unknown'
    if (code === 0) {
      txn.receipt = mpesaReceipt()
      txn.transactionDate = http.nairobiStamp(state.now())
    }
    const metadata =
      code === 0
        ? {
            Item: [
              { Name: 'Amount', Value: '__AMOUNT__' },
              { Name: 'MpesaReceiptNumber', Value: txn.receipt },
              { Name: 'Balance' },
              { Name: 'TransactionDate', Value: Number(txn.transactionDate) },
              { Name: 'PhoneNumber', Value: Number(txn.phone) },
            ],
          }
        : undefined
    if (code !== 0)
      state.fail({
        gateway: 'mpesa',
        reference: txn.checkoutRequestId,
        // The business statement lists a failed transaction under a receipt of its own.
        receipt: mpesaReceipt(),
        attemptRef: txn.accountReference,
        phone: txn.phone,
        account: txn.shortcode,
        amount: String(txn.amount),
        currency: 'KES',
        resultCode: code,
        resultDesc: txn.resultDesc,
      })
    if (code === 0) {
      state.charge({
        gateway: 'mpesa',
        reference: txn.checkoutRequestId,
        receipt: txn.receipt,
        attemptRef: txn.accountReference,
        phone: txn.phone,
        account: txn.shortcode,
        amount: String(txn.amount),
        currency: 'KES',
      })
    }
    const payload = {
      Body: {
        stkCallback: {
          MerchantRequestID: txn.merchantRequestId,
          CheckoutRequestID: txn.checkoutRequestId,
          ResultCode: code,
          ResultDesc: txn.resultDesc,
          ...(metadata ? { CallbackMetadata: metadata } : {}),
        },
      },
    }
    // Amount goes out as a decimal number, 1500.00, like the documented sample.
    const body = JSON.stringify(payload).replace('"__AMOUNT__"', `${txn.amount}.00`)
    const outcome = pairingOk ? txn.outcome : 'success'
    if (outcome === 'lost_callback') return
    if (outcome === 'late_callback') {
      state.later(
        state.timings.lateCallbackMs,
        () => void state.deliver('mpesa', txn.callbackUrl, body),
      )
      return
    }
    const copies = outcome === 'duplicate_callback' ? 3 : 1
    for (let i = 0; i < copies; i++) void state.deliver('mpesa', txn.callbackUrl, body)
  }

  /** An STK request's JSON body and the shortcode it proves, or the refusal. */
  function stkRequest(
    req: http.SimRequest,
  ): http.SimReply | { body: Record<string, unknown>; cred: { shortcode: string } } {
    const denied = authorised(req)
    if (denied) return denied
    const body = http.parseJsonBody(req.raw)
    if (!body) return invalid('JSON')
    const cred = credentials(body)
    if ('kind' in cred) return cred
    return { body, cred }
  }

  function stkPush(req: http.SimRequest): http.SimReply {
    const asked = stkRequest(req)
    if ('kind' in asked) return asked
    const { body, cred } = asked
    const type = body['TransactionType']
    if (type !== 'CustomerPayBillOnline' && type !== 'CustomerBuyGoodsOnline')
      return invalid('TransactionType')
    const amount = http.wholeNumber(body['Amount'])
    if (amount === undefined || amount < 1 || amount > 250_000) return invalid('Amount')
    const partyA = String(body['PartyA'] ?? '')
    if (!MSISDN.test(partyA)) return invalid('PartyA')
    const partyB = String(body['PartyB'] ?? '')
    if (!/^\d{5,10}$/.test(partyB)) return invalid('PartyB')
    const phone = String(body['PhoneNumber'] ?? '')
    if (!MSISDN.test(phone)) return invalid('PhoneNumber')
    if (!http.acceptableCallbackUrl(body['CallBackURL'])) return invalid('CallBackURL')
    const ref = body['AccountReference']
    if (typeof ref !== 'string' || !/^[A-Za-z0-9]{1,12}$/.test(ref))
      return invalid('AccountReference')
    const desc = body['TransactionDesc']
    if (desc !== undefined && (typeof desc !== 'string' || desc.length > 13))
      return invalid('TransactionDesc')

    const outcome = state.takeScript('mpesa') ?? magicPhoneOutcome(phone) ?? 'success'
    const failure = pushFailure(outcome)
    if (failure) return failure
    // A paybill collects to itself; the sandbox paybill is no till (else ResultCode 2028).
    const pairingOk =
      type === 'CustomerPayBillOnline' ? partyB === cred.shortcode : partyB !== SANDBOX_SHORTCODE
    const now = state.now()
    const txn: Txn = {
      merchantRequestId: `${http.randomDigits(5)}-${http.randomDigits(8)}-1`,
      checkoutRequestId: `ws_CO_${http.nairobiStamp(now).replace(/^(\d{4})(\d{2})(\d{2})/, '$3$2$1')}${http.randomDigits(6)}`,
      shortcode: cred.shortcode,
      phone,
      amount,
      accountReference: ref,
      callbackUrl: String(body['CallBackURL']),
      outcome,
    }
    store().txns.set(txn.checkoutRequestId, txn)
    state.later(state.timings.callbackDelayMs, () => act(txn, pairingOk))
    const accepted = http.json(200, {
      MerchantRequestID: txn.merchantRequestId,
      CheckoutRequestID: txn.checkoutRequestId,
      ResponseCode: '0',
      ResponseDescription: 'Success. Request accepted for processing',
      CustomerMessage: 'Success. Request accepted for processing',
    })
    // Accepted, unless the outcome loses the answer on the way back or slows it (SimState.answer).
    return state.answer(outcome, accepted)
  }

  function stkQuery(req: http.SimRequest): http.SimReply {
    const asked = stkRequest(req)
    if ('kind' in asked) return asked
    const { body, cred } = asked
    const txn = store().txns.get(String(body['CheckoutRequestID'] ?? ''))
    if (!txn || txn.shortcode !== cred.shortcode) return invalid('CheckoutRequestID')
    if (txn.resultCode === undefined)
      return darajaError(500, '500.001.1001', 'The transaction is being processed')
    return http.json(200, {
      ResponseCode: '0',
      ResponseDescription: 'The service request has been accepted successsfully',
      MerchantRequestID: txn.merchantRequestId,
      CheckoutRequestID: txn.checkoutRequestId,
      ResultCode: String(txn.resultCode),
      ResultDesc: txn.resultDesc,
    })
  }

  function oauth(req: http.SimRequest): http.SimReply {
    const m = /^Basic\s+(.+)$/i.exec(http.headerOf(req.headers, 'authorization') ?? '')
    const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : ''
    const colon = decoded.indexOf(':')
    const key = colon > 0 ? decoded.slice(0, colon) : ''
    if (!key || colon === decoded.length - 1 || key === REFUSED_CREDENTIAL)
      return darajaError(400, '400.008.01', 'Invalid Authentication passed')
    if (req.query.get('grant_type') !== 'client_credentials')
      return darajaError(400, '400.008.02', 'Invalid grant type passed')
    const token = http.randomAlnum(28)
    store().tokens.set(token, { expiresAtMs: state.now() + TOKEN_LIFETIME_S * 1000 })
    // A string on purpose: older docs send "3599", and real clients must accept both.
    return http.json(200, { access_token: token, expires_in: String(TOKEN_LIFETIME_S) })
  }

  // The C2B page's banned words (GATEWAYS.md §1.6), checked on register.
  const FORBIDDEN_URL = /m-pesa|safaricom|exe|exec|cmd|sql|query/i

  function registerUrl(req: http.SimRequest): http.SimReply {
    const denied = authorised(req)
    if (denied) return denied
    const body = http.parseJsonBody(req.raw)
    if (!body) return invalid('JSON')
    const shortcode = String(body['ShortCode'] ?? '')
    if (!/^\d{5,7}$/.test(shortcode)) return invalid('ShortCode')
    const responseType = body['ResponseType']
    if (responseType !== 'Completed' && responseType !== 'Cancelled') return invalid('ResponseType')
    for (const field of ['ConfirmationURL', 'ValidationURL']) {
      const url = body[field]
      if (!http.acceptableCallbackUrl(url)) return invalid(field)
      const u = new URL(String(url))
      if (FORBIDDEN_URL.test(`${u.hostname}${u.pathname}`)) return invalid(field)
    }
    store().c2b.set(shortcode, {
      confirmationUrl: String(body['ConfirmationURL']),
      validationUrl: String(body['ValidationURL']),
      responseType,
    })
    return http.json(200, {
      OriginatorCoversationID: http.randomHex(12),
      ResponseCode: '0',
      ResponseDescription: 'Success',
    })
  }

  function simulate(req: http.SimRequest): http.SimReply {
    const denied = authorised(req)
    if (denied) return denied
    const body = http.parseJsonBody(req.raw)
    if (!body) return invalid('JSON')
    return c2bPayment({
      shortcode: String(body['ShortCode'] ?? ''),
      amount: body['Amount'],
      msisdn: String(body['Msisdn'] ?? ''),
      billRefNumber: String(body['BillRefNumber'] ?? ''),
      commandId: String(body['CommandID'] ?? 'CustomerPayBillOnline'),
    })
  }

  /** A C2B payment: the customer paid the paybill/till; the confirmation goes to the registered URL. */
  function c2bPayment(p: C2BPayment): http.SimReply {
    const amount = http.wholeNumber(p.amount)
    if (amount === undefined || amount < 1 || amount > 250_000) return invalid('Amount')
    if (!MSISDN.test(p.msisdn)) return invalid('Msisdn')
    if (p.billRefNumber.length > 20) return invalid('BillRefNumber')
    if (p.commandId !== 'CustomerPayBillOnline' && p.commandId !== 'CustomerBuyGoodsOnline')
      return invalid('CommandID')
    const reg = store().c2b.get(p.shortcode)
    if (!reg)
      return darajaError(
        400,
        '400.002.02',
        'Bad Request - Invalid ShortCode: no C2B URLs registered',
      )
    const transId = mpesaReceipt()
    state.later(state.timings.callbackDelayMs, () => {
      state.charge({
        gateway: 'mpesa',
        reference: transId,
        receipt: transId,
        attemptRef: p.billRefNumber || undefined,
        phone: p.msisdn,
        account: p.shortcode,
        amount: String(amount),
        currency: 'KES',
      })
      const body = {
        TransactionType: p.commandId === 'CustomerBuyGoodsOnline' ? 'Buy Goods' : 'Pay Bill',
        TransID: transId,
        TransTime: http.nairobiStamp(state.now()),
        TransAmount: `${amount}.00`,
        BusinessShortCode: p.shortcode,
        BillRefNumber: p.billRefNumber,
        InvoiceNumber: '',
        OrgAccountBalance: '',
        ThirdPartyTransID: '',
        MSISDN: `${p.msisdn.slice(0, 4)} ***** ${p.msisdn.slice(-3)}`,
        FirstName: 'JOHN',
        MiddleName: '',
        LastName: 'DOE',
      }
      void state.deliver('mpesa', reg.confirmationUrl, JSON.stringify(body))
    })
    return http.json(200, {
      OriginatorCoversationID: http.randomHex(12),
      ResponseCode: '0',
      ResponseDescription: 'Accept the service request successfully.',
    })
  }
  return {
    routes: [
      http.route('GET', /^\/oauth\/v1\/generate$/, oauth),
      http.route('POST', /^\/mpesa\/stkpush\/v1\/processrequest$/, stkPush),
      http.route('POST', /^\/mpesa\/stkpushquery\/v1\/query$/, stkQuery),
      http.route('POST', /^\/mpesa\/c2b\/v[12]\/registerurl$/, registerUrl),
      http.route('POST', /^\/mpesa\/c2b\/v[12]\/simulate$/, simulate),
    ],
    c2bPayment,
    expireTokens() {
      const tokens = store().tokens
      for (const t of tokens.values()) t.expiresAtMs = 0
      return tokens.size
    },
    registerPasskey(shortcode, passkey) {
      store().passkeys.set(shortcode, passkey)
    },
  }
}
