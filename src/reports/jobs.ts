import { ALERT_WEBHOOK_SECRET, ALERT_WEBHOOK_SECRET_CONTEXT } from '../admin/config.js'
import { getSetting } from '../admin/settings.js'
import type { DaemonJob, JobProvider } from '../context.js'
import { createHttpClient } from '../gateways/http.js'
import { unseal } from '../vault/vault.js'
import { evaluateHealth } from './health.js'
import { type AlertChange, deliverAlerts } from './webhook.js'

/**
 * The daemon evaluates the same checks as `dsh health` every minute, logs each alert that opens
 * or closes, and POSTs those changes to `alert-webhook-url`, signed, retried with back-off.
 */
export const healthJobs: JobProvider = async (ctx) => {
  const startedAt = ctx.clock.now()
  const http = createHttpClient({ readTimeoutMs: 10_000 })
  ctx.onClose(() => http.close())
  const job: DaemonJob = {
    name: 'health',
    cron: '30 * * * * *',
    async run() {
      const r = await evaluateHealth(ctx, { daemonStartedAt: startedAt })
      const changes: AlertChange[] = [
        ...r.opened.map((alert) => ({ event: 'alert.opened' as const, alert })),
        ...r.closed.map((alert) => ({ event: 'alert.closed' as const, alert })),
      ]
      for (const c of changes) ctx.warn(`${c.event} ${c.alert.code}: ${c.alert.message}`)
      const counts = `${r.alerts.length} open, ${r.opened.length} opened, ${r.closed.length} closed`
      if (changes.length === 0) return { summary: counts, idle: true }
      const store = await ctx.store()
      const url = await getSetting(store.db, 'alert_webhook_url')
      const sealed = await getSetting(store.db, ALERT_WEBHOOK_SECRET)
      if (!url || !sealed) return { summary: `${counts}; no alert webhook configured` }
      const secret = unseal(ctx, sealed, ALERT_WEBHOOK_SECRET_CONTEXT)
      const d = await deliverAlerts(ctx, http, url, secret, changes)
      return {
        summary: `${counts}; webhook ${d.delivered ? 'delivered' : `failed after ${d.tries} tries (${d.lastError})`}`,
      }
    },
  }
  return [job]
}
