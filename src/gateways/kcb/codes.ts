import { STK_RESULT_CODES } from '../daraja/codes.js'
import { type CodeTable, notAttempted, transportTable, unknownRule } from '../outcomes.js'

/**
 * KCB M-Pesa collection through Zed (GATEWAYS.md §2). Zed publishes no documentation, so the
 * status and callback vocabulary is OUR assumption (see src/sandbox/kcb.ts): `status` is
 * PENDING | SUCCESS | FAILED and a failure carries M-Pesa's own STK ResultCode as a string,
 * which is classified exactly as Daraja's. Errors are `{status:"FAILED", errorCode, message}`.
 *
 * 5xx (PRODUCT.md, Routing: three outcomes): a 5xx carrying Zed's own error body
 * (`{status:"FAILED", errorCode}`, e.g. INTERNAL_ERROR or SERVICE_UNAVAILABLE) says the request was
 * not processed: not_attempted, safe to fail over. A 5xx without it (a proxy's 502/504, a bare
 * 500/503) and a connection reset say nothing about the push: it may still reach the phone, so
 * they are unknown (no failover, no second push). Our reference travels in orderIds, so the status
 * query by order id and the callback (orderIds) resolve them.
 */
export const KCB_CODES: CodeTable = {
  'status.SUCCESS': { status: 'succeeded', message: 'the customer paid' },
  'status.PENDING': {
    status: 'pending',
    message: 'the prompt is open: the customer has not acted yet',
  },
  ...Object.fromEntries(Object.entries(STK_RESULT_CODES).filter(([code]) => code !== '0')),
  INVALID_REQUEST: notAttempted(
    false,
    'Zed refused a field (amount, phone, origin, URL): nothing was pushed',
  ),
  UNSUPPORTED_CURRENCY: notAttempted(false, 'KCB M-Pesa takes KES only: nothing was pushed'),
  SUBSCRIBER_LOCKED: notAttempted(
    false,
    'a prompt is already open on this phone: no charge is possible now; wait a minute',
  ),
  UNAUTHORIZED: notAttempted(false, 'Zed refused the API key (X-Authorization)'),
  NOT_FOUND: {
    status: 'failed',
    kind: 'unknown',
    gatewayFault: false,
    message: 'Zed does not know this request reference',
  },
  'http.400': notAttempted(false, 'HTTP 400: the request was refused; nothing was pushed'),
  'http.401': notAttempted(false, 'HTTP 401: Zed refused the API key'),
  'http.403': notAttempted(false, 'HTTP 403: the API key may not call this API'),
  'http.404': notAttempted(false, 'HTTP 404: check the base URL'),
  'http.429': notAttempted(true, 'HTTP 429: throttled before processing'),
  INTERNAL_ERROR: notAttempted(
    true,
    "Zed's own error body on a 5xx: the request was not processed; nothing was pushed, safe to fail over",
  ),
  SERVICE_UNAVAILABLE: notAttempted(
    true,
    "Zed's own error body on a 503: the request was not processed; nothing was pushed, safe to fail over",
  ),
  'http.500': unknownRule(
    true,
    "HTTP 500 without Zed's error body: the push may have reached the phone: no failover; the callback (orderIds) or the status query by order id resolves it",
  ),
  'http.502': unknownRule(
    true,
    'HTTP 502 from a proxy in front of Zed: the push may have reached the phone: no failover; the callback (orderIds) or the status query by order id resolves it',
  ),
  'http.503': unknownRule(
    true,
    "HTTP 503 without Zed's error body: the push may have reached the phone: no failover; the callback (orderIds) or the status query by order id resolves it",
  ),
  'http.504': unknownRule(
    true,
    'HTTP 504 from a proxy in front of Zed: the push may have reached the phone: no failover; the callback (orderIds) or the status query by order id resolves it',
  ),
  'dsh.no_request_reference': {
    status: 'failed',
    kind: 'unknown',
    gatewayFault: false,
    message:
      'the status query needs the requestReferenceId, which the push never returned: wait for the callback',
  },
  ...transportTable(
    'unknown',
    'Zed may have read the request and pushed the prompt; the push may have reached the phone: no failover; the callback (orderIds) or the status query by order id resolves it',
  ),
}
