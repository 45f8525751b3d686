import {
  type CodeTable,
  declined,
  notAttempted,
  serverFaults,
  transportTable,
  unknownRule as unknown,
} from '../outcomes.js'

const DECLINES = [
  'GENERIC_DECLINE',
  'CARD_DECLINED',
  'INSUFFICIENT_FUNDS',
  'CVV_FAILURE',
  'ADDRESS_VERIFICATION_FAILURE',
  'INVALID_EXPIRATION',
  'BAD_EXPIRATION',
  'CARD_EXPIRED',
  'EXPIRATION_FAILURE',
  'INVALID_ACCOUNT',
  'INVALID_CARD',
  'TRANSACTION_LIMIT',
  'CARD_DECLINED_VERIFICATION_REQUIRED',
  'CARD_DECLINED_CALL_ISSUER',
  'CARDHOLDER_INSUFFICIENT_PERMISSIONS',
  'VOICE_FAILURE',
  'PAN_FAILURE',
  'INVALID_PIN',
  'ALLOWABLE_PIN_TRIES_EXCEEDED',
]

/**
 * Square (GATEWAYS.md §4). Looked up as `payment.<status>` for a Payment, else the first error
 * code the table knows, then `http.<status>`.
 *
 * 5xx: Square may have created the payment, so it is unknown (a gateway fault); the
 * idempotency_key (our attemptRef) makes a resend return the same payment, and reference_id
 * carries the attemptRef for a lookup.
 */
export const SQUARE_CODES: CodeTable = {
  'payment.COMPLETED': { status: 'succeeded', message: 'the payment completed' },
  'payment.APPROVED': { status: 'pending', message: 'authorised, not yet completed' },
  'payment.PENDING': { status: 'pending', message: 'Square is still processing the payment' },
  'payment.FAILED': declined('the payment failed'),
  'payment.CANCELED': declined('the payment was cancelled', { cancelled: true }),
  ...Object.fromEntries(
    DECLINES.map((c) => [
      c,
      declined(`the card was declined (${c.toLowerCase().replace(/_/g, ' ')})`),
    ]),
  ),
  UNAUTHORIZED: notAttempted(false, 'Square refused the access token'),
  ACCESS_TOKEN_EXPIRED: notAttempted(false, 'the Square access token expired'),
  ACCESS_TOKEN_REVOKED: notAttempted(false, 'the Square access token was revoked'),
  FORBIDDEN: notAttempted(false, 'the token may not make this call'),
  INSUFFICIENT_SCOPES: notAttempted(false, 'the token lacks the PAYMENTS_WRITE scope'),
  BAD_REQUEST: notAttempted(false, 'Square refused the request as invalid'),
  INVALID_VALUE: notAttempted(false, 'Square refused a value in the request'),
  MISSING_REQUIRED_PARAMETER: notAttempted(false, 'a required field was missing'),
  VALUE_TOO_LONG: notAttempted(false, 'a value was too long (idempotency_key ≤ 45)'),
  VALUE_TOO_LOW: notAttempted(false, 'the amount was too low'),
  INVALID_LOCATION: notAttempted(false, 'the location cannot take this payment'),
  CARD_PROCESSING_NOT_ENABLED: notAttempted(
    false,
    'the location cannot process cards (outside AU, CA, FR, IE, JP, ES, UK, US): record EXTERNAL/CASH only',
  ),
  CURRENCY_MISMATCH: notAttempted(false, 'the currency is not the location’s'),
  NOT_FOUND: notAttempted(false, 'no such payment or location'),
  IDEMPOTENCY_KEY_REUSED: unknown(
    false,
    'this idempotency_key was first used with another request: a payment may exist for it; query, do not resend',
  ),
  RATE_LIMITED: notAttempted(true, 'Square throttled the call and did not process it'),
  INTERNAL_SERVER_ERROR: unknown(
    true,
    'Square had an internal error: it may have created the payment',
  ),
  SERVICE_UNAVAILABLE: unknown(true, 'Square was unavailable: it may have created the payment'),
  GATEWAY_TIMEOUT: unknown(true, 'Square timed out: it may have created the payment'),
  'lookup.no_match': unknown(
    false,
    'no payment carries this attempt reference (yet): query again later',
  ),
  'http.400': notAttempted(false, 'HTTP 400: the request was refused'),
  'http.401': notAttempted(false, 'HTTP 401: the access token was refused'),
  'http.403': notAttempted(false, 'HTTP 403: the token may not make this call'),
  'http.404': notAttempted(false, 'HTTP 404: no such object'),
  'http.429': notAttempted(true, 'HTTP 429: throttled, not processed'),
  ...serverFaults('it may have created the payment; resolve by query'),
  ...transportTable(
    'unknown',
    'Square may have read and run the request; the idempotency_key makes a query or resend safe',
  ),
}
