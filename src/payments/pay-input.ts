import { usageError, validationError } from '../core/errors.js'
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

export interface PayFlags {
  branch?: string | undefined
  amount?: string | undefined
  currency?: string | undefined
  phone?: string | undefined
  order?: string | undefined
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

/** Checks and normalises `dsh pay` input: usage problems first (2), then invalid values (3). */
export function parsePayRequest(f: PayFlags): PayRequest {
  const missing = (['branch', 'amount', 'currency'] as const).filter((k) => !f[k])
  if (missing.length > 0)
    throw usageError(
      'missing_flags',
      `missing required ${missing.length === 1 ? 'flag' : 'flags'}: ${missing.map((k) => `--${k}`).join(', ')}`,
    )
  const method = (f.method ?? (f.phone ? 'mpesa' : undefined)) as Method | undefined
  if (!method)
    throw usageError('missing_flags', 'missing --phone (for M-Pesa) or --method card|cash')
  if (!(METHODS as readonly string[]).includes(method))
    throw usageError('invalid_method', `--method must be one of ${METHODS.join(', ')}`)
  if (method === 'mpesa' && !f.phone)
    throw usageError(
      'missing_flags',
      'missing required flag: --phone (M-Pesa pushes go to a phone)',
    )
  const customerType = (f.customerType ?? 'regular') as CustomerType
  if (!(CUSTOMER_TYPES as readonly string[]).includes(customerType))
    throw usageError(
      'invalid_customer_type',
      `--customer-type must be one of ${CUSTOMER_TYPES.join(', ')}`,
    )
  const branch = parseSlug(f.branch ?? '', 'branch code')
  const code = currency(f.currency ?? '').code
  const amount = parsePositiveAmount(f.amount ?? '', code)
  const phone = f.phone ? normalisePhone(f.phone) : null
  if (f.order !== undefined && !ORDER.test(f.order))
    throw validationError(
      'invalid_order',
      `--order "${f.order}" must be 1 to 64 letters, digits or . _ : / -`,
    )
  if (f.idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(f.idempotencyKey))
    throw validationError(
      'invalid_idempotency_key',
      '--idempotency-key must be 1 to 255 printable characters without spaces',
    )
  return {
    branch,
    amountMinor: amount.minor,
    currency: code,
    phone,
    orderId: f.order ?? null,
    method,
    customerType,
    idempotencyKey: f.idempotencyKey ?? null,
    paymentMethod: f.paymentMethod ?? null,
  }
}
