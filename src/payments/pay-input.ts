import { fieldError } from '../core/errors.js'
import { currency } from '../core/money/currency.js'
import { parsePositiveAmount } from '../core/money/parse.js'
import {
  CUSTOMER_TYPES,
  type CustomerType,
  METHODS,
  type Method,
} from '../core/payments/routing.js'
import { normalisePhone } from '../core/phone.js'
import { parseSlug } from '../core/validate.js'

/** A payment as asked for, in the request's own words (the CLI maps its flags to these fields). */
export interface PayInput {
  branch?: string | undefined
  /** A decimal string in major units ("1,500.50"), never a number. */
  amount?: string | undefined
  currency?: string | undefined
  phone?: string | undefined
  orderId?: string | undefined
  method?: string | undefined
  customerType?: string | undefined
  idempotencyKey?: string | undefined
  paymentMethod?: string | undefined
}

export interface PayRequest {
  branch: string
  amountMinor: bigint
  currency: string
  phone: string | null
  orderId: string | null
  method: Method
  customerType: CustomerType
  idempotencyKey: string | null
  paymentMethod: string | null
}

const ORDER = /^[A-Za-z0-9._:/-]{1,64}$/
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/

/** Checks and normalises a payment request: missing fields first (usage), then invalid values. */
export function parsePayRequest(f: PayInput): PayRequest {
  // The currency defaults to the branch's (pay() fills it in); it is missing only when that fails.
  const missing = (['branch', 'amount', 'currency'] as const).filter((k) => !f[k])
  if (missing.length > 0)
    throw fieldError(
      'usage',
      'missing_flags',
      missing,
      `missing required ${missing.length === 1 ? 'field' : 'fields'}: ${missing.join(', ')}`,
    )
  const method = (f.method ?? (f.phone ? 'mpesa' : undefined)) as Method | undefined
  if (!method)
    throw fieldError(
      'usage',
      'missing_flags',
      ['phone', 'method'],
      'missing phone (for M-Pesa) or method card|cash',
    )
  if (!(METHODS as readonly string[]).includes(method))
    throw fieldError(
      'validation',
      'invalid_method',
      ['method'],
      `method must be one of ${METHODS.join(', ')}`,
    )
  if (method === 'mpesa' && !f.phone)
    throw fieldError(
      'usage',
      'missing_flags',
      ['phone'],
      'missing required field: phone (M-Pesa pushes go to a phone)',
    )
  const customerType = (f.customerType ?? 'regular') as CustomerType
  if (!(CUSTOMER_TYPES as readonly string[]).includes(customerType))
    throw fieldError(
      'validation',
      'invalid_customer_type',
      ['customerType'],
      `customerType must be one of ${CUSTOMER_TYPES.join(', ')}`,
    )
  const branch = parseSlug(f.branch ?? '', 'branch code')
  const code = currency(f.currency ?? '').code
  const amount = parsePositiveAmount(f.amount ?? '', code)
  const phone = f.phone ? normalisePhone(f.phone) : null
  if (f.orderId !== undefined && !ORDER.test(f.orderId))
    throw fieldError(
      'validation',
      'invalid_order',
      ['orderId'],
      `orderId "${f.orderId}" must be 1 to 64 letters, digits or . _ : / -`,
    )
  if (f.idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(f.idempotencyKey))
    throw fieldError(
      'validation',
      'invalid_idempotency_key',
      ['idempotencyKey'],
      'idempotencyKey must be 1 to 255 printable characters without spaces',
    )
  return {
    branch,
    amountMinor: amount.minor,
    currency: code,
    phone,
    orderId: f.orderId ?? null,
    method,
    customerType,
    idempotencyKey: f.idempotencyKey ?? null,
    paymentMethod: f.paymentMethod ?? null,
  }
}
