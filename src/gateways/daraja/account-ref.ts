import { createHash } from 'node:crypto'

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/**
 * Daraja's AccountReference for one of our attempts: 12 alphanumerics (Daraja's limit), the first
 * 60 bits of SHA-256(attemptRef) in base32. It is shown to the customer, echoed as the bill
 * reference in statements and Pull Transactions, and found again by recomputing it for the
 * candidate attempts (a collision needs ~10^9 attempts in the same window).
 *
 * @example accountReferenceFor('att_01JD3X…') // 'K7QH2M4ZC9PD'-like, always the same for one ref
 */
export function accountReferenceFor(attemptRef: string): string {
  const digest = createHash('sha256').update(attemptRef, 'utf8').digest()
  let bits = 0
  let value = 0
  let out = ''
  for (const byte of digest) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5 && out.length < 12) {
      out += BASE32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
    value &= (1 << bits) - 1
    if (out.length === 12) break
  }
  return out
}

/** Whether a Daraja AccountReference / bill reference belongs to `attemptRef`. */
export const matchesAccountReference = (reference: string, attemptRef: string): boolean =>
  reference.trim().toUpperCase() === accountReferenceFor(attemptRef)

/** TransactionDesc: at most 13 characters of letters, digits and spaces; never empty. */
export function transactionDesc(description: string): string {
  const clean = description
    .replace(/[^A-Za-z0-9 ]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 13)
    .trim()
  return clean || 'Payment'
}
