import { createHmac } from 'node:crypto'
import type { Ctx } from '../context.js'
import type { HttpClient } from '../gateways/http.js'
import type { Alert } from './health.js'

/**
 * `X-Dsh-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`: the scheme of the bank
 * callbacks (src/gateways/bank/client.ts verifyBankSignature verifies it), so a receiver checks
 * both the body and its age.
 */
export function signWebhook(secret: string, body: string, nowMs: number): string {
  const t = Math.floor(nowMs / 1000)
  const v1 = createHmac('sha256', secret).update(`${t}.${body}`, 'utf8').digest('hex')
  return `t=${t},v1=${v1}`
}

export interface AlertChange {
  event: 'alert.opened' | 'alert.closed'
  alert: Alert
}

/**
 * POSTs alert changes, signed, retrying a failed delivery with back-off (1 s, 4 s, 16 s by
 * default); each try is signed anew so its timestamp is fresh. True when the receiver took it.
 */
export async function deliverAlerts(
  ctx: Ctx,
  http: HttpClient,
  url: string,
  secret: string,
  changes: AlertChange[],
  backoffMs: readonly number[] = [1_000, 4_000, 16_000],
): Promise<{ delivered: boolean; tries: number; lastError: string | null }> {
  const body = JSON.stringify({ at: ctx.clock.now().toISOString(), changes })
  let lastError: string | null = null
  for (let i = 0; i <= backoffMs.length; i++) {
    try {
      const res = await http.request({
        method: 'POST',
        url,
        headers: {
          'content-type': 'application/json',
          'x-dsh-signature': signWebhook(secret, body, ctx.clock.now().getTime()),
        },
        body,
        readTimeoutMs: 10_000,
      })
      if (res.status >= 200 && res.status < 300)
        return { delivered: true, tries: i + 1, lastError: null }
      lastError = `HTTP ${res.status}`
    } catch (err) {
      lastError = (err as Error).message
    }
    const wait = backoffMs[i]
    if (wait !== undefined) await new Promise((r) => setTimeout(r, wait))
  }
  return { delivered: false, tries: backoffMs.length + 1, lastError }
}
