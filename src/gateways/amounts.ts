import { DshError, validationError } from '../core/errors.js'
import { currency } from '../core/money/currency.js'
import { toDecimalString } from '../core/money/format.js'
import { rescale } from '../core/money/money.js'
import { normalisePhone } from '../core/phone.js'

const shown = (minor: bigint, code: string) =>
  `${code} ${toDecimalString({ minor, currency: code })}`

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/**
 * What an M-Pesa push (Daraja's or KCB's) sends: the whole shillings, as the JSON number both APIs
 * take (checked to be exact), and the customer's phone, normalised. Refused when either is
 * missing or out of range.
 */
export function mpesaPush(
  req: { amountMinor: bigint; currency: string; phone?: string | undefined },
  gateway = 'M-Pesa',
): { amount: number; phone: string } {
  const amount = mpesaWholeShillings(req.amountMinor, req.currency, gateway)
  if (amount > MAX_SAFE)
    throw validationError('amount_too_large', 'the amount is too large for M-Pesa')
  if (!req.phone)
    throw validationError(
      'phone_required',
      `${gateway} needs the customer’s phone number`,
      'pass --phone 07XXXXXXXX',
    )
  return { amount: Number(amount), phone: normalisePhone(req.phone) }
}

/**
 * M-Pesa (Daraja and KCB) takes whole Kenyan shillings only (GATEWAYS.md §1.2, §5): the ISO
 * amount in cents becomes whole shillings, and anything else is refused, never rounded.
 *
 * @example mpesaWholeShillings(150000n, 'KES') // 1500n
 */
export function mpesaWholeShillings(amountMinor: bigint, code: string, gateway = 'M-Pesa'): bigint {
  const cur = currency(code)
  if (cur.code !== 'KES') {
    throw validationError(
      'unsupported_currency',
      `${gateway} takes Kenyan shillings only: ${shown(amountMinor, cur.code)} cannot be sent`,
      'route this payment to a gateway that takes the currency (e.g. stripe)',
    )
  }
  if (amountMinor % 100n !== 0n) {
    throw validationError(
      'inexact_amount',
      `${gateway} takes whole shillings: ${toDecimalString({ minor: amountMinor, currency: 'KES' })} cannot be sent`,
      'charge a whole number of shillings and take the cents another way',
    )
  }
  const whole = amountMinor / 100n
  if (whole < 1n) {
    throw validationError(
      'amount_too_small',
      `${gateway} takes at least KES 1: ${shown(amountMinor, 'KES')} cannot be sent`,
    )
  }
  return whole
}

/** Zero-decimal currencies at Stripe (GATEWAYS.md §3, stripe.com/docs/currencies). */
export const STRIPE_ZERO_DECIMAL: readonly string[] = [
  'BIF',
  'CLP',
  'DJF',
  'GNF',
  'JPY',
  'KMF',
  'KRW',
  'MGA',
  'PYG',
  'RWF',
  'UGX',
  'VND',
  'VUV',
  'XAF',
  'XOF',
  'XPF',
]
/**
 * Effectively zero-decimal, but sent ×100 with the last two digits 00 (docs.stripe.com/currencies
 * #special-cases): 5 UGX is sent as 500.
 */
export const STRIPE_TIMES_100: readonly string[] = ['UGX', 'ISK']
/** Stripe's amount field holds at most 8 digits. */
export const STRIPE_MAX_AMOUNT = 99_999_999n

function exact(fn: () => bigint, message: string, hint: string): bigint {
  try {
    return fn()
  } catch (e) {
    if (e instanceof DshError && e.code === 'inexact_amount')
      throw validationError('inexact_amount', message, hint)
    throw e
  }
}

/** What a card payment is charged to (a card, a nonce, a source); refused when it names none. */
export function paymentMethodOf(
  req: { paymentMethod?: string | undefined },
  needs: string,
): string {
  if (!req.paymentMethod) throw validationError('payment_method_required', needs)
  return req.paymentMethod
}

/** The currency of an amount a card gateway is to charge; refused unless the amount is positive. */
function positiveAmountIn(amountMinor: bigint, code: string, gateway: string) {
  const cur = currency(code)
  if (amountMinor <= 0n)
    throw validationError(
      'amount_too_small',
      `${gateway} needs a positive amount, not ${shown(amountMinor, cur.code)}`,
    )
  return cur
}

/**
 * ISO minor units → Stripe's unit and lower-case currency; refuses what cannot be sent exactly.
 *
 * @example toStripeAmount(5000n, 'UGX') // { amount: 500000n, currency: 'ugx' }
 */
export function toStripeAmount(
  amountMinor: bigint,
  code: string,
): { amount: bigint; currency: string } {
  const cur = positiveAmountIn(amountMinor, code, 'Stripe')
  const whole = () =>
    exact(
      () => rescale(amountMinor, cur.exponent, 0),
      `Stripe takes whole units of ${cur.code}: ${shown(amountMinor, cur.code)} cannot be sent`,
      `charge a whole number of ${cur.code}`,
    )
  let amount: bigint
  if (STRIPE_TIMES_100.includes(cur.code)) amount = whole() * 100n
  else if (STRIPE_ZERO_DECIMAL.includes(cur.code)) amount = whole()
  else
    amount = exact(
      () => rescale(amountMinor, cur.exponent, 2),
      `Stripe takes ${cur.code} in cents: ${shown(amountMinor, cur.code)} cannot be sent`,
      'round the amount to cents first',
    )
  if (amount > STRIPE_MAX_AMOUNT) {
    throw validationError(
      'amount_too_large',
      `Stripe takes at most 8 digits: ${shown(amountMinor, cur.code)} is ${amount} in Stripe's unit`,
    )
  }
  return { amount, currency: cur.code.toLowerCase() }
}

/** Stripe's unit → ISO minor units (the inverse of toStripeAmount). */
export function fromStripeAmount(amount: bigint, stripeCurrency: string): bigint {
  const cur = currency(stripeCurrency)
  const bad = () =>
    validationError(
      'inexact_amount',
      `Stripe amount ${amount} ${stripeCurrency} has no exact ISO value`,
    )
  if (STRIPE_TIMES_100.includes(cur.code)) {
    if (amount % 100n !== 0n) throw bad()
    return rescale(amount / 100n, 0, cur.exponent)
  }
  if (STRIPE_ZERO_DECIMAL.includes(cur.code)) return rescale(amount, 0, cur.exponent)
  return exact(() => rescale(amount, 2, cur.exponent), bad().message, 'check the currency')
}

/**
 * Square takes the smallest unit of the currency, which is the ISO exponent, and the currency
 * must be the seller location's (GATEWAYS.md §4). The location currency is only known when
 * configured (setting `locationCurrency`); otherwise Square itself refuses a mismatch.
 */
export function toSquareAmount(
  amountMinor: bigint,
  code: string,
  locationCurrency?: string,
): { amount: bigint; currency: string } {
  const cur = positiveAmountIn(amountMinor, code, 'Square')
  if (locationCurrency && currency(locationCurrency).code !== cur.code) {
    throw validationError(
      'unsupported_currency',
      `the Square location takes ${currency(locationCurrency).code}: ${shown(amountMinor, cur.code)} cannot be sent`,
      'Square only accepts the currency of the seller location',
    )
  }
  return { amount: amountMinor, currency: cur.code }
}
