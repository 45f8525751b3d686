import { CALLBACK_GATEWAYS, type CallbackGateway } from '../core/gateways/types.js'

/** The gateways the sandbox simulates: every one that calls dsh back (`bank` is our settlement transfer API). */
export const SANDBOX_GATEWAYS = CALLBACK_GATEWAYS
export type SandboxGateway = CallbackGateway

/** Scriptable outcomes (magic values and `POST /__control/script`). */
export const OUTCOMES = [
  'success',
  'insufficient_funds',
  'cancelled',
  'unreachable',
  'wrong_pin',
  'rule_limited',
  'subscriber_lock',
  'spike_arrest',
  'declined',
  'lost_callback',
  'duplicate_callback',
  'late_callback',
  'http_500',
  'http_503',
  'connection_reset',
  'slow_success',
  'reset_after_charge',
  'http_504_charged',
  'http_500_charged',
  'http_502_charged',
  'http_503_charged',
  'reset_after_headers',
] as const
export type Outcome = (typeof OUTCOMES)[number]

/**
 * The request is processed (money moves, the callback comes) but its answer is lost on the way
 * back, as behind a failing proxy: a reset before or after the answer's headers, a bare 5xx, an
 * HTML error page (SimState.answer).
 */
const ANSWER_LOST: readonly Outcome[] = [
  'reset_after_charge',
  'reset_after_headers',
  'http_500_charged',
  'http_502_charged',
  'http_503_charged',
  'http_504_charged',
]
const TRANSPORT: readonly Outcome[] = [
  'success',
  'lost_callback',
  'duplicate_callback',
  'late_callback',
  'http_500',
  'http_503',
  'connection_reset',
  'slow_success',
  ...ANSWER_LOST,
]
const MPESA: readonly Outcome[] = [
  ...TRANSPORT,
  'insufficient_funds',
  'cancelled',
  'unreachable',
  'wrong_pin',
  'rule_limited',
  'subscriber_lock',
  'spike_arrest',
]

/** Which outcomes make sense for which gateway ('declined' is a card or bank refusal). */
export const OUTCOMES_BY_GATEWAY: Readonly<Record<SandboxGateway, readonly Outcome[]>> = {
  mpesa: MPESA,
  'mpesa-kcb': MPESA,
  stripe: [...TRANSPORT, 'declined', 'insufficient_funds'],
  square: [...TRANSPORT, 'declined', 'insufficient_funds'],
  bank: [...TRANSPORT, 'declined'],
}

/** Applies `outcome` to the next `count` (default 1) charging requests of `gateway`. */
export interface ScriptRule {
  gateway: SandboxGateway
  outcome: Outcome
  count?: number
}

/** A charge that really happened: money moved from a customer (or to a bank account). */
export interface Charge {
  gateway: SandboxGateway
  /** The gateway's id: CheckoutRequestID, TransID, requestReferenceId, pi_…, Square id, trf_…. */
  reference: string
  /** M-Pesa receipt, Stripe charge id, Square receipt number, when there is one. */
  receipt?: string | undefined
  /** Our reference as echoed: AccountReference / orderIds[0] / Idempotency-Key / idempotency_key. */
  attemptRef: string | undefined
  phone?: string | undefined
  /** Where the money went: the M-Pesa shortcode that collected it, the bank account credited. */
  account?: string | undefined
  /** Bank: the transfer's reference and narrative, as the credited account's statement shows them. */
  payeeReference?: string | undefined
  narrative?: string | undefined
  /** In the gateway's own unit (whole KES for M-Pesa, Stripe's unit, …), as a decimal string. */
  amount: string
  /** As the gateway spells it (Stripe: lower case). */
  currency: string
  at: string
}

/**
 * An M-Pesa push the customer's side refused (cancelled, insufficient funds, wrong PIN, …): no
 * money moved, but the business statement still lists it as a Failed transaction.
 */
export interface FailedCharge extends Charge {
  /** The STK ResultCode and ResultDesc the callback carried. */
  resultCode: number
  resultDesc: string
}

/** One callback or webhook POST the sandbox made. */
export interface Delivery {
  gateway: SandboxGateway
  url: string
  body: string
  headers: Record<string, string>
  /** The receiver's HTTP status, or undefined with `error` when it could not be reached. */
  status?: number | undefined
  error?: string | undefined
  at: string
}

/** One request the sandbox answered (or reset, or is still withholding). */
export interface RequestRecord {
  method: string
  path: string
  status: number | 'reset' | 'reset_after_headers' | 'withheld'
  at: string
}

export type WebhookGateway = 'stripe' | 'square' | 'bank'
export interface WebhookRegistration {
  gateway: WebhookGateway
  url: string
  /** Stripe whsec_…, Square signature key, bank HMAC secret. */
  secret: string
  /**
   * Bank only: this URL and secret are for transfers made with this API key (several branches,
   * each with its own key, can use one sandbox at once). Without it: every other transfer.
   */
  apiKey?: string | undefined
}
