import { getSetting } from '../admin/settings.js'
import { anchorsPath, appendAnchor } from '../audit/anchors.js'
import { auditHead } from '../audit/audit.js'
import type { Ctx, DaemonJob, JobProvider } from '../context.js'
import { listTenants } from '../tenants/tenants.js'
import { pruneBackups, takeBackup } from './backup.js'

const DEFAULT_AT = '02:30'
const DEFAULT_KEEP = 14

/** HH:MM of an instant in a time zone. */
export function localTime(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at)
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '00'
  return `${get('hour')}:${get('minute')}`
}

/** The store's first tenant's time zone (Africa/Nairobi when there is no tenant yet). */
async function storeTimeZone(ctx: Ctx): Promise<string> {
  const store = await ctx.store()
  return (await listTenants(store.db))[0]?.timezone ?? 'Africa/Nairobi'
}

/**
 * The daily backup at `backup-at` and the daily audit anchor. Both tick every minute and read
 * their settings each time, so `dsh config set backup-at` applies without a restart; the job
 * tick row makes sure one daemon runs each.
 */
export const backupJobs: JobProvider = async (ctx, settings) => {
  const backup: DaemonJob = {
    name: 'backup',
    cron: '0 * * * * *',
    async run(tick) {
      const store = await ctx.store()
      const at = (await getSetting(store.db, 'backup_at')) ?? DEFAULT_AT
      if (localTime(tick, await storeTimeZone(ctx)) !== at)
        return { summary: `next backup at ${at}`, idle: true }
      const r = await takeBackup(ctx, settings.dbSpec)
      const keep = Number((await getSetting(store.db, 'backup_keep')) ?? DEFAULT_KEEP)
      const removed = pruneBackups(ctx, keep)
      return {
        summary: `backup ${r.file} (sha256 ${r.manifest.sha256.slice(0, 12)}…, audit head ${r.manifest.auditHead.seq}, key ${r.manifest.masterKeyId}); removed ${removed.length} older than the newest ${keep}`,
      }
    },
  }
  const anchor: DaemonJob = {
    name: 'audit-anchor',
    cron: '0 5 0 * * *',
    async run(tick) {
      const head = await auditHead(ctx)
      const path = await anchorsPath(ctx)
      appendAnchor(path, head, tick.toISOString())
      return { summary: `audit head ${head.seq} appended to ${path}` }
    },
  }
  return [backup, anchor]
}
