import { createHash } from 'node:crypto'

export interface PaymentRequestShape {
  branch: string
  amountMinor: bigint
  currency: string
  phone: string | null
  orderId: string | null
  method: string
  customerType: string
}

/**
 * The idempotency fingerprint: only what defines the charge. Flags such as --wait, and how the
 * phone number was written (it is normalised first), do not count.
 */
export function requestFingerprint(r: PaymentRequestShape): string {
  const canonical = [
    r.branch,
    r.amountMinor.toString(),
    r.currency,
    r.phone ?? '',
    r.orderId ?? '',
    r.method,
    r.customerType,
  ].join('\u001f')
  return createHash('sha256').update(canonical).digest('hex')
}
