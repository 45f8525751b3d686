import { STK_RESULT_CODES } from '../daraja/codes.js'
import { type CodeTable, notAttempted, transportTable } from '../outcomes.js'

/**
 * KCB M-Pesa collection through Zed (GATEWAYS.md §2). Zed publishes no documentation, so the
 * status and callback vocabulary is OUR assumption (see src/sandbox/kcb.ts): `status` is
 * PENDING | SUCCESS | FAILED and a failure carries M-Pesa's own STK ResultCode as a string,
 * which is classified exactly as Daraja's. Errors are `{status:"FAILED", errorCode, message}`.
 *
 * 5xx and a reset before acceptance are not_attempted + gateway fault for the same reason as
 * Daraja's: the push is accepted synchronously with a requestReferenceId, and without one it can
 * be neither queried nor matched.
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
  'http.500': notAttempted(
    true,
    'HTTP 500 before acceptance (no requestReferenceId): nothing was pushed',
  ),
  'http.502': notAttempted(true, 'HTTP 502 from a proxy: nothing was pushed'),
  'http.503': notAttempted(true, 'HTTP 503: nothing was pushed'),
  'http.504': notAttempted(
    true,
    'HTTP 504 before acceptance: no requestReferenceId, so it can be neither queried nor matched',
  ),
  'dsh.no_request_reference': {
    status: 'failed',
    kind: 'unknown',
    gatewayFault: false,
    message:
      'the status query needs the requestReferenceId, which the push never returned: wait for the callback',
  },
  ...transportTable(
    'not_attempted',
    'treated like a 5xx before acceptance (no requestReferenceId came back); safe to fail over',
  ),
}
