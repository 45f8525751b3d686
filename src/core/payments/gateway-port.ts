import type { GatewayType } from '../gateways/types.js'

/**
 * What a failed gateway call means for the money (ORCHESTRATION.md, Kill Bill's lesson):
 * - declined: the gateway or customer said no; final; never fail over.
 * - not_attempted: the request never reached a point where a charge could exist (connection
 *   refused, DNS, 5xx before acceptance, open breaker, rejected auth): safe to fail over.
 * - unknown: it may have been charged (read timeout after sending, 5xx after acceptance): never
 *   fail over or re-send; resolve by querying.
 */
export type FailureKind = 'declined' | 'not_attempted' | 'unknown'

/** References a gateway gives back, stored on the attempt. */
export interface GatewayRefs {
  /** Daraja CheckoutRequestID, KCB request reference, Stripe PaymentIntent id, Square payment id. */
  gatewayRef?: string | undefined
  /** Daraja MerchantRequestID and similar secondary ids. */
  secondaryRef?: string | undefined
  /** M-Pesa receipt number (e.g. NLJ7RT61SV) or card charge id, once paid. */
  receiptNumber?: string | undefined
}

export interface InitiateRequest {
  /**
   * Our attempt reference, stored BEFORE the call; it travels where the gateway echoes it
   * (Stripe Idempotency-Key, Square idempotency_key, KCB order id, Daraja AccountReference), so
   * a crashed attempt can be found again and never re-sent.
   */
  attemptRef: string
  amountMinor: bigint
  /** ISO 4217 code; amountMinor is in its ISO exponent. Adapters convert to their own unit. */
  currency: string
  /** Normalised MSISDN 2547XXXXXXXX / 2541XXXXXXXX for M-Pesa and KCB. */
  phone?: string | undefined
  orderId: string
  description: string
  callbackUrl: string
  /** Card payments: a payment method token (Stripe pm_…, Square source_id). */
  paymentMethod?: string | undefined
}

/** The gateway's answer to a call, already classified. */
export type GatewayOutcome =
  | { status: 'pending'; refs: GatewayRefs; code: string; message: string }
  | {
      status: 'succeeded'
      refs: GatewayRefs
      code: string
      message: string
      amountMinor?: bigint | undefined
    }
  | {
      status: 'failed'
      kind: FailureKind
      /** Whether this counts against the breaker: timeouts, 5xx, connection errors only. */
      gatewayFault: boolean
      /** Customer cancelled (M-Pesa 1032): a final failure shown as cancelled. */
      cancelled?: boolean | undefined
      refs: GatewayRefs
      code: string
      message: string
    }

export interface AttemptLog {
  /** The request and response with secrets removed, for the attempt row. */
  request: unknown
  response: unknown
  latencyMs: number
}

export interface GatewayCallResult {
  outcome: GatewayOutcome
  log: AttemptLog
}

/** A callback body the adapter understood. */
export interface ParsedCallback {
  /** Unique key for the inbox: gateway + CheckoutRequestID / TransID / event id. */
  dedupeKey: string
  gatewayRef: string | undefined
  attemptRef: string | undefined
  outcome: GatewayOutcome
  amountMinor?: bigint | undefined
  currency?: string | undefined
  shortcode?: string | undefined
  /**
   * The paying MSISDN where the callback names it (Daraja's PhoneNumber item), so a callback for
   * a push whose answer never came (no CheckoutRequestID stored) can still find its payment.
   */
  payer?: string | undefined
}

export interface CredentialCheck {
  ok: boolean
  /** rejected: the gateway refused the credentials (exit 7); unreachable (exit 6). */
  problem?: 'rejected' | 'unreachable' | undefined
  message: string
}

/** A credential check that could not reach the gateway (exit 6). */
export const unreachable = (message: string): CredentialCheck => ({
  ok: false,
  problem: 'unreachable',
  message,
})

/** A credential check whose credentials the gateway refused (exit 7). */
export const rejected = (message: string): CredentialCheck => ({
  ok: false,
  problem: 'rejected',
  message,
})

/** One gateway behind one interface; CLI, router and daemon only ever see this. */
export interface GatewayAdapter {
  readonly type: GatewayType
  initiate(req: InitiateRequest): Promise<GatewayCallResult>
  /** Asks the gateway for the state of an attempt (STK Query, retrieve PaymentIntent, …). */
  query(attemptRef: string, refs: GatewayRefs): Promise<GatewayCallResult>
  /** Parses a callback body; throws a validation DshError on an unknown shape. */
  parseCallback(body: unknown): ParsedCallback
  /** Verifies a callback's signature where the gateway signs (Stripe, Square); Daraja signs nothing. */
  verifyCallback(
    rawBody: string,
    headers: Readonly<Record<string, string | undefined>>,
    url: string,
    nowMs: number,
  ): boolean
  testCredentials(): Promise<CredentialCheck>
}
