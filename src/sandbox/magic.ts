import type { Outcome } from './types.js'

/**
 * Magic phone numbers (M-Pesa and KCB): `2547000XXXXX`, the last five digits pick the outcome.
 * Other `2547000…` numbers and every ordinary number (0712345678) simply succeed.
 */
export const MAGIC_PHONES: Readonly<Record<string, { outcome: Outcome; what: string }>> = {
  '254700000001': { outcome: 'insufficient_funds', what: 'ResultCode 1, insufficient funds' },
  '254700001032': { outcome: 'cancelled', what: 'ResultCode 1032, cancelled by the customer' },
  '254700001037': {
    outcome: 'unreachable',
    what: 'ResultCode 1037, DS timeout (phone unreachable)',
  },
  '254700002001': { outcome: 'wrong_pin', what: 'ResultCode 2001, wrong PIN' },
  '254700000017': { outcome: 'rule_limited', what: 'ResultCode 17, rule limited' },
  '254700000026': {
    outcome: 'subscriber_lock',
    what: 'HTTP 500 500.001.1001 "Unable to lock subscriber" (nothing charged)',
  },
  '254700009001': {
    outcome: 'lost_callback',
    what: 'the customer pays, no callback is ever sent (query tells the truth)',
  },
  '254700009002': {
    outcome: 'duplicate_callback',
    what: 'the customer pays, the callback arrives 3 times',
  },
  '254700009003': {
    outcome: 'late_callback',
    what: 'the customer pays, the callback comes 5 s late',
  },
  '254700009408': {
    outcome: 'slow_success',
    what: 'accepted and paid, but the HTTP answer is withheld for 15 s',
  },
  '254700009500': {
    outcome: 'http_500',
    what: "HTTP 500 carrying the gateway's own error body (Daraja 500.003.1001, KCB INTERNAL_ERROR): not processed, nothing charged; not attempted, so dsh fails over",
  },
  '254700009503': {
    outcome: 'http_503',
    what: "HTTP 503 carrying the gateway's own error body (Daraja 500.003.1001, KCB SERVICE_UNAVAILABLE): not processed, nothing charged; not attempted, so dsh fails over",
  },
  '254700009504': {
    outcome: 'connection_reset',
    what: 'the connection is reset before any answer; the sandbox takes no money, but a reset may follow a processed push, so dsh treats it as unknown (no failover) and it ends in needs_review',
  },
  '254700009505': {
    outcome: 'reset_after_charge',
    what: 'the push is processed, then the connection is reset before the answer: the customer is prompted and pays, the callback comes; dsh: unknown, no failover, resolved by the callback',
  },
  '254700000504': {
    outcome: 'http_504_charged',
    what: 'HTTP 504 from the API gateway in front, yet the push still reaches the phone: the customer pays and the callback comes; dsh: unknown, no failover, resolved by the callback',
  },
  '254700000500': {
    outcome: 'http_500_charged',
    what: 'HTTP 500 with an empty body (no gateway error body), yet the push still reaches the phone: the customer pays and the callback comes; dsh: unknown, no failover, resolved by the callback',
  },
  '254700000502': {
    outcome: 'http_502_charged',
    what: 'a bare HTTP 502 (empty body) from a proxy in front, yet the push still reaches the phone: the customer pays and the callback comes; dsh: unknown, no failover, resolved by the callback',
  },
  '254700000503': {
    outcome: 'http_503_charged',
    what: "HTTP 503 with a proxy's HTML page (no gateway error body), yet the push still reaches the phone: the customer pays and the callback comes; dsh: unknown, no failover, resolved by the callback",
  },
  '254700009506': {
    outcome: 'reset_after_headers',
    what: "the push is processed and the 200's headers are sent, then the connection is reset mid-body: the customer pays and the callback comes; dsh: unknown, no failover, resolved by the callback",
  },
}

/**
 * How dsh classifies what the magic phones (and a closed port) do to a push (PRODUCT.md, Routing:
 * three outcomes). Only what cannot have reached the customer may fail over.
 */
export const PUSH_FAILURES = {
  notAttempted: {
    connectionRefused:
      "point the gateway's base URL at a port where nothing listens (e.g. http://127.0.0.1:9): connection refused, the request never left, nothing charged; dsh fails over",
    phones: ['254700009500', '254700009503', '254700000026'],
  },
  unknown: {
    phones: [
      '254700009408',
      '254700009504',
      '254700009505',
      '254700009506',
      '254700000500',
      '254700000502',
      '254700000503',
      '254700000504',
    ],
    what: 'the push may have reached the phone: no failover, no second push to that phone for that amount; the callback, a query or needs_review resolves it',
  },
} as const

/** Magic card / source values (Stripe payment_method, Square source_id). */
export const MAGIC_CARDS: Readonly<Record<string, { outcome: Outcome; what: string }>> = {
  pm_card_visa: { outcome: 'success', what: 'Stripe: succeeds' },
  pm_card_chargeDeclined: { outcome: 'declined', what: 'Stripe: card_declined / generic_decline' },
  pm_card_chargeDeclinedInsufficientFunds: {
    outcome: 'insufficient_funds',
    what: 'Stripe: card_declined / insufficient_funds',
  },
  'cnon:card-nonce-ok': { outcome: 'success', what: 'Square: completes' },
  'cnon:card-nonce-declined': { outcome: 'declined', what: 'Square: GENERIC_DECLINE' },
  'cnon:card-nonce-insufficient-funds': {
    outcome: 'insufficient_funds',
    what: 'Square: INSUFFICIENT_FUNDS',
  },
  EXTERNAL: { outcome: 'success', what: 'Square: records an external payment' },
  CASH: { outcome: 'success', what: 'Square: records a cash payment' },
}

/** A credential the sandbox refuses on every API (everything else is accepted). */
export const REFUSED_CREDENTIAL = 'invalid'

export const magicPhoneOutcome = (msisdn: string): Outcome | undefined =>
  MAGIC_PHONES[msisdn]?.outcome
