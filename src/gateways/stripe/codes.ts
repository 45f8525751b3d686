import {
  type CodeTable,
  declined,
  notAttempted,
  serverFaults,
  transportTable,
  unknownRule as unknown,
} from '../outcomes.js'

/**
 * Stripe (GATEWAYS.md §3). Looked up in this order: `pi.<status>` for a PaymentIntent, else the
 * error's decline_code, code, type, then `http.<status>`.
 *
 * 5xx: Stripe may have created and even charged the PaymentIntent before failing, so a 5xx is
 * unknown (a gateway fault). That is safe to resolve: the Idempotency-Key (our attemptRef) makes a
 * resend replay the first result, and the attemptRef is in the metadata for a search.
 */
export const STRIPE_CODES: CodeTable = {
  'pi.succeeded': { status: 'succeeded', message: 'the card was charged' },
  'pi.processing': { status: 'pending', message: 'Stripe is still processing the payment' },
  'pi.requires_action': {
    status: 'pending',
    message: 'the customer must authenticate (3-D Secure) before the charge completes',
  },
  'pi.requires_confirmation': { status: 'pending', message: 'created but not yet confirmed' },
  'pi.requires_capture': { status: 'pending', message: 'authorised, not yet captured' },
  'pi.requires_payment_method': declined(
    'the payment method was refused; the customer must give another',
  ),
  'pi.canceled': declined('the PaymentIntent was cancelled', { cancelled: true }),
  // card_error decline codes: the issuer or the customer said no; final.
  card_declined: declined('the card was declined'),
  generic_decline: declined('the card was declined (generic decline)'),
  insufficient_funds: declined('the card has insufficient funds'),
  lost_card: declined('the card was reported lost'),
  stolen_card: declined('the card was reported stolen'),
  expired_card: declined('the card has expired'),
  incorrect_cvc: declined('the CVC was wrong'),
  incorrect_number: declined('the card number was wrong'),
  do_not_honor: declined('the issuer declined (do not honour)'),
  fraudulent: declined('Stripe suspected fraud'),
  authentication_required: declined('the issuer requires authentication this flow cannot give'),
  card_error: declined('a card error: the issuer refused the charge'),
  processing_error: notAttempted(
    true,
    'Stripe could not process the card: nothing was charged; safe to fail over',
  ),
  // Requests Stripe refused before doing anything.
  invalid_request_error: notAttempted(
    false,
    'Stripe refused the request as invalid: nothing was created',
  ),
  parameter_invalid_integer: notAttempted(
    false,
    'an amount Stripe refuses (e.g. UGX not divisible by 100)',
  ),
  amount_too_small: notAttempted(false, 'below Stripe’s minimum charge for the currency'),
  amount_too_large: notAttempted(false, 'above Stripe’s maximum charge'),
  resource_missing: notAttempted(false, 'no such object (payment method or PaymentIntent)'),
  authentication_error: notAttempted(
    false,
    'Stripe refused the secret key: check it with `dsh gateway test`',
  ),
  permission_error: notAttempted(false, 'the key may not make this call'),
  rate_limit_error: notAttempted(
    true,
    'Stripe throttled the call (HTTP 429) and did not process it',
  ),
  rate_limit: notAttempted(true, 'Stripe throttled the call (HTTP 429) and did not process it'),
  // The same key was used before: never resend blindly, find the first request's result.
  idempotency_error: unknown(
    false,
    'this Idempotency-Key was first used with other parameters: a payment may exist for it; query, do not resend',
  ),
  idempotency_key_in_use: unknown(
    false,
    'a request with this Idempotency-Key is still running: query later',
  ),
  api_error: unknown(
    true,
    'Stripe had an internal error: it may have charged; resolve by query or resend with the same key',
  ),
  'search.no_match': unknown(
    false,
    'no PaymentIntent carries this attempt reference yet (search can lag about a minute): query again later',
  ),
  'http.400': notAttempted(false, 'HTTP 400: the request was refused'),
  'http.401': notAttempted(false, 'HTTP 401: the secret key was refused'),
  'http.402': declined('HTTP 402: the card was declined'),
  'http.403': notAttempted(false, 'HTTP 403: the key may not make this call'),
  'http.404': notAttempted(false, 'HTTP 404: no such object'),
  'http.409': unknown(false, 'HTTP 409: an idempotency conflict; query'),
  'http.429': notAttempted(true, 'HTTP 429: throttled, not processed'),
  ...serverFaults('it may have charged; resolve by query or resend with the same key'),
  ...transportTable(
    'unknown',
    'Stripe may have read and run the request; the Idempotency-Key makes a query or resend safe',
  ),
}
