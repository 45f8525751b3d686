export type { DaemonJob, JobProvider, JobResult, JobSettings } from '../context.js'

import { backupJobs } from '../backup/jobs.js'
import type { Ctx, DaemonJob, JobProvider, JobSettings } from '../context.js'
import { runRecovery } from '../payments/recovery.js'
import { healthJobs } from '../reports/jobs.js'
import { retentionJobs } from '../retention/jobs.js'
import { settlementJobs } from '../settlement/jobs.js'
import { claimTick, finishTick, pruneTicks } from './jobs-store.js'

export const coreJobs: JobProvider = async (ctx, settings) => [
  {
    name: 'recovery',
    cron: settings.recoveryCron,
    async run() {
      const r = await runRecovery(ctx, { schedule: settings.recovery })
      return {
        summary: `checked ${r.checked}, resolved ${r.resolved}, to review ${r.reviewed}, rescheduled ${r.rescheduled}, errors ${r.errors}`,
        idle: r.checked === 0 && r.errors === 0,
      }
    },
  },
  {
    name: 'prune-ticks',
    cron: '0 17 3 * * *',
    async run() {
      const store = await ctx.store()
      const before = new Date(ctx.clock.now().getTime() - 7 * 86_400_000).toISOString()
      const r = await pruneTicks(store.db, before)
      return { summary: `removed ${Number(r.numDeletedRows)} job ticks older than 7 days` }
    },
  },
]

/**
 * Every capability's scheduled jobs (settlement: one `settlement` job ticking each minute;
 * retention: a daily `prune`).
 */
export const JOB_PROVIDERS: JobProvider[] = [
  coreJobs,
  backupJobs,
  healthJobs,
  settlementJobs,
  retentionJobs,
]

export async function daemonJobs(ctx: Ctx, settings: JobSettings): Promise<DaemonJob[]> {
  const out: DaemonJob[] = []
  for (const p of JOB_PROVIDERS) out.push(...(await p(ctx, settings)))
  return out
}

/**
 * node-cron's run coordinator backed by the store: `shouldRun` claims the (job, tick) row;
 * `onComplete` records when it finished. The key is node-cron's `<name>:<slot ISO time>`.
 */
export function tickCoordinator(ctx: Ctx, job: string, owner: string) {
  const tickOf = (key: string) => key.slice(key.indexOf(':') + 1)
  const outcomes = new Map<string, string>()
  return {
    async shouldRun(key: string): Promise<boolean> {
      const store = await ctx.store()
      return claimTick(store.db, job, tickOf(key), owner, ctx.clock.now().toISOString())
    },
    async onComplete(key: string): Promise<void> {
      const store = await ctx.store()
      const tick = tickOf(key)
      await finishTick(
        store.db,
        job,
        tick,
        owner,
        ctx.clock.now().toISOString(),
        outcomes.get(tick) ?? 'done',
      )
      outcomes.delete(tick)
    },
    /** The job's summary for a tick, written by onComplete. */
    remember(tick: Date, outcome: string): void {
      outcomes.set(tick.toISOString(), outcome)
    },
  }
}
