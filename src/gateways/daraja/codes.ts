import { type CodeTable, declined, notAttempted, transportTable, unknownRule } from '../outcomes.js'

/**
 * STK result codes (GATEWAYS.md §1.4), as they arrive in the callback (a number) and the STK
 * Query (a string). Customer outcomes are declined and never count against the breaker: a
 * phone that is off (1037) says nothing about Daraja's health (decision-engine#237).
 */
export const STK_RESULT_CODES: CodeTable = {
  '0': { status: 'succeeded', message: 'the customer paid' },
  '1': declined('the customer has too little money on M-Pesa'),
  '2': declined('below the minimum of KES 1'),
  '3': declined('above the per-transaction maximum (KES 250,000)'),
  '4': declined("would exceed the customer's daily limit (KES 500,000)"),
  '8': declined('would exceed the maximum account balance'),
  '17': declined(
    'rule limited: the same amount to the same customer within 2 minutes; ask the customer to wait',
  ),
  '1019': declined('the prompt expired before the customer acted'),
  '1025': notAttempted(
    true,
    'the prompt could not be pushed to the phone (our prompt is always under 182 characters, so this is Safaricom-side): nothing was charged',
  ),
  '1032': declined('the customer cancelled the prompt', { cancelled: true }),
  '1037': declined(
    'DS timeout: the customer cannot be reached (phone off or out of coverage); a customer outcome, not a gateway fault',
  ),
  '2001': declined('wrong PIN ("the initiator information is invalid")'),
  '2028': notAttempted(
    false,
    'not permitted: TransactionType and PartyB do not match (till vs paybill); fix the configuration; nothing was charged',
  ),
  '8006': declined("the customer's security credential (PIN) is locked"),
  SFC_IC0003: notAttempted(
    false,
    'operator does not exist: check the shortcode / till configuration',
  ),
}

/**
 * Daraja's error envelope `{requestId, errorCode, errorMessage}` and HTTP answers without one.
 * 500.001.1001 means several things, so it is split by its message (GATEWAYS.md §1.2).
 *
 * 5xx on the push (PRODUCT.md, Routing: three outcomes): a 5xx whose body is Daraja's own error
 * envelope says the request was not processed (500.003.1001, spike arrest, quota): nothing can
 * have reached the phone, so it is not_attempted and failing over is safe. A 5xx WITHOUT that
 * envelope (a bare 500/503, or a 502/504 from the API gateway in front of M-Pesa) says nothing
 * about the push: M-Pesa may have accepted it and the prompt may still reach the phone. Without a
 * CheckoutRequestID it cannot be queried, but its callback still matches (branch + amount +
 * phone), so it is unknown: no failover, no second push, the callback or needs_review resolves it.
 * A reply that does show acceptance (ResponseCode "0" and a CheckoutRequestID) is pending whatever
 * the HTTP status.
 */
export const DARAJA_ERROR_CODES: CodeTable = {
  '400.002.02': notAttempted(
    false,
    'Bad Request - Invalid <field>: Daraja refused a field (shortcode, timestamp, amount, phone, URL); nothing was charged',
  ),
  '400.008.01': notAttempted(false, 'OAuth: wrong authentication type (Basic is required)'),
  '400.008.02': notAttempted(false, 'OAuth: wrong grant type (client_credentials is required)'),
  '404.001.01': notAttempted(false, 'resource not found: check the base URL'),
  '404.001.03': notAttempted(
    true,
    'Invalid Access Token even after fetching a new one (the first is handled by a refresh and one retry)',
  ),
  '405.001': notAttempted(false, 'method not allowed: a dsh bug; nothing was charged'),
  '500.003.02': notAttempted(
    true,
    'Spike Arrest Violation: Daraja throttled the call before processing it; safe to fail over',
  ),
  '500.003.03': notAttempted(
    true,
    'Quota Violation: the app is over its quota; nothing was charged',
  ),
  '500.003.1001': notAttempted(
    true,
    'Daraja internal error before acceptance (no CheckoutRequestID): nothing was pushed',
  ),
  '500.001.1001/being_processed': {
    status: 'pending',
    message: 'the transaction is being processed: the customer has not acted yet',
  },
  '500.001.1001/subscriber_locked': notAttempted(
    false,
    'Unable to lock subscriber: a prompt is already open on this phone; no charge is possible now; wait a minute before pushing again',
  ),
  '500.001.1001/wrong_credentials': notAttempted(
    false,
    'Wrong credentials: the Password (shortcode + passkey + timestamp) was refused; check the passkey and shortcode',
  ),
  '500.001.1001/merchant_not_found': notAttempted(
    false,
    'Merchant does not exist: check the shortcode',
  ),
  'oauth.transport': notAttempted(
    true,
    'fetching the OAuth token failed on the wire: the payment request itself was never sent',
  ),
  'oauth.http.400': notAttempted(false, 'OAuth refused the consumer key/secret'),
  'oauth.http.401': notAttempted(false, 'OAuth refused the consumer key/secret'),
  'oauth.http.500': notAttempted(true, 'OAuth answered HTTP 500: no token, so nothing was sent'),
  'oauth.http.503': notAttempted(true, 'OAuth answered HTTP 503: no token, so nothing was sent'),
  'http.400': notAttempted(false, 'HTTP 400 without a Daraja error code: the request was refused'),
  'http.401': notAttempted(false, 'HTTP 401: the credentials were refused'),
  'http.403': notAttempted(false, 'HTTP 403: the app may not call this API'),
  'http.404': notAttempted(false, 'HTTP 404: check the base URL'),
  'http.429': notAttempted(true, 'HTTP 429: throttled before processing'),
  'http.500': unknownRule(
    true,
    "HTTP 500 without Daraja's error body: the push may have reached the phone: no failover; its callback (branch + amount + phone) or needs_review resolves it",
  ),
  'http.502': unknownRule(
    true,
    'HTTP 502 from the API gateway in front of M-Pesa: the push may have reached the phone: no failover; its callback (branch + amount + phone) or needs_review resolves it',
  ),
  'http.503': unknownRule(
    true,
    "HTTP 503 without Daraja's error body: the push may have reached the phone: no failover; its callback (branch + amount + phone) or needs_review resolves it",
  ),
  'http.504': unknownRule(
    true,
    'HTTP 504 from the API gateway in front of M-Pesa: the push may have reached the phone: no failover; its callback (branch + amount + phone) or needs_review resolves it',
  ),
  'dsh.no_checkout_request_id': {
    status: 'failed',
    kind: 'unknown',
    gatewayFault: false,
    message:
      'STK Query needs the CheckoutRequestID, which the push never returned: wait for the callback or the statement (AccountReference)',
  },
}

/** 500.001.1001 and friends carry their meaning in errorMessage. */
export function darajaErrorKey(errorCode: string, errorMessage: string): string {
  if (errorCode !== '500.001.1001') return errorCode
  const m = errorMessage.toLowerCase()
  if (m.includes('being processed')) return '500.001.1001/being_processed'
  if (m.includes('lock subscriber')) return '500.001.1001/subscriber_locked'
  if (m.includes('wrong credentials')) return '500.001.1001/wrong_credentials'
  if (m.includes('merchant does not exist')) return '500.001.1001/merchant_not_found'
  return errorCode
}

/**
 * Everything the Daraja adapter classifies with. A reset with no answer is unknown: the request
 * may have been read and the push accepted before the connection dropped.
 */
export const DARAJA_CODES: CodeTable = {
  ...STK_RESULT_CODES,
  ...DARAJA_ERROR_CODES,
  ...transportTable(
    'unknown',
    'Daraja may have read the request and pushed the prompt; the push may have reached the phone: no failover; its callback (branch + amount + phone) or needs_review resolves it',
  ),
}
