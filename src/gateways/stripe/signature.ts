import { createHmac, timingSafeEqual } from 'node:crypto'

/** Stripe's default tolerance for a webhook's timestamp (stripe-node Webhooks.ts). */
export const STRIPE_TOLERANCE_S = 300

/** `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` → its timestamp and v1 signatures. */
export function parseStripeSignature(headerValue: string): { t: number | undefined; v1: string[] } {
  let t: number | undefined
  const v1: string[] = []
  for (const part of headerValue.split(',')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    const k = part.slice(0, eq).trim()
    const v = part.slice(eq + 1).trim()
    if (k === 't' && /^\d{1,12}$/.test(v)) t = Number(v)
    else if (k === 'v1' && /^[0-9a-f]+$/i.test(v)) v1.push(v.toLowerCase())
  }
  return { t, v1 }
}

const sameHex = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'))

/**
 * Verifies a Stripe webhook over the RAW body: HMAC-SHA256(secret, `${t}.${rawBody}`) in hex,
 * any v1 may match (constant-time), and the timestamp must be within the tolerance of now.
 */
export function verifyStripeSignature(
  rawBody: string,
  headerValue: string | undefined,
  secret: string,
  nowMs: number,
  toleranceS = STRIPE_TOLERANCE_S,
): boolean {
  if (!headerValue || !secret) return false
  const { t, v1 } = parseStripeSignature(headerValue)
  if (t === undefined || v1.length === 0) return false
  if (Math.abs(nowMs / 1000 - t) > toleranceS) return false
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`, 'utf8').digest('hex')
  let ok = false
  for (const sig of v1) ok = sameHex(sig, expected) || ok // no early exit: same time for every v1
  return ok
}
