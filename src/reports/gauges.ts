import { lastBackupAt } from '../backup/backup.js'
import { inboxCounts } from '../callbacks/inbox.js'
import type { Ctx } from '../context.js'
import { type BreakerView, gatewayStatus } from '../gateway-config/health.js'
import { paymentGauges } from '../payments/records.js'
import { type Alert, openAlerts } from './health.js'
import { pendingSettlementAll } from './report-store.js'

export interface StoreGauges {
  payments: { status: string; gateway: string; count: number }[]
  inbox: { status: string; gateway: string; count: number; duplicates: number }[]
  /** Open payments (created, pending, unknown) the recovery job still has to resolve. */
  recoveryBacklog: number
  /** … of which the next check is already due. */
  recoveryOverdue: number
  breakers: BreakerView[]
  /** When the newest backup in $DSH_HOME/backups was taken (null: none yet). */
  lastBackupAt: Date | null
  alertsOpen: { code: string; branch: string; count: number }[]
  settlementPending: { branch: string; currency: string; amountMinor: bigint }[]
}

/** The store-wide numbers behind `GET /metrics`, read at scrape time (every process's work). */
export async function storeGauges(app: Ctx): Promise<StoreGauges> {
  const store = await app.store()
  const { byStatus: payments, open } = await paymentGauges(store.db, app.clock.now().toISOString())
  return {
    payments: payments.map((r) => ({
      status: r.status,
      gateway: r.gateway ?? 'none',
      count: Number(r.count),
    })),
    inbox: await inboxCounts(store.db),
    recoveryBacklog: Number(open?.all ?? 0),
    recoveryOverdue: Number(open?.due ?? 0),
    breakers: await gatewayStatus(app),
    lastBackupAt: lastBackupAt(app),
    alertsOpen: countAlerts(await openAlerts(app)),
    settlementPending: await pendingSettlementAll(store.db),
  }
}

function countAlerts(alerts: Alert[]) {
  const by = new Map<string, { code: string; branch: string; count: number }>()
  for (const a of alerts) {
    const branch = a.branch ?? ''
    const k = `${a.code}\u0000${branch}`
    const e = by.get(k) ?? { code: a.code, branch, count: 0 }
    e.count++
    by.set(k, e)
  }
  return [...by.values()]
}
