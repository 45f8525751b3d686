import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Verifies `x-square-hmacsha256-signature`: base64(HMAC-SHA256(signature key, notification URL +
 * raw body)). The URL must be exactly the one registered with Square. Constant-time compare
 * (Square's own SDK uses ===).
 */
export function verifySquareSignature(
  rawBody: string,
  signature: string | undefined,
  signatureKey: string,
  notificationUrl: string,
): boolean {
  if (!signature || !signatureKey) return false
  const expected = createHmac('sha256', signatureKey)
    .update(notificationUrl + rawBody, 'utf8')
    .digest()
  const given = Buffer.from(signature.trim(), 'base64')
  return given.length === expected.length && timingSafeEqual(given, expected)
}
