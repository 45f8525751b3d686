import type { App } from '../app.js'
import { type RecoverySchedule, runRecovery } from '../payments/recovery.js'
import { claimTick, finishTick, pruneTicks } from './jobs-store.js'

/**
 * A scheduled job of the daemon. `cron` has six fields (seconds first, node-cron 4); `timezone`
 * is an IANA name (default the machine's). Each tick runs once across every daemon sharing the
 * store: the first to claim the (job, tick) row runs it, the others skip it.
 */
export interface DaemonJob {
  name: string
  cron: string
  timezone?: string | undefined
  /** One tick: a short summary for the log and the job_ticks row; idle ones are logged at debug. */
  run(tick: Date): Promise<JobResult>
}

export interface JobResult {
  summary: string
  /** Nothing to do this tick. */
  idle?: boolean
}

export interface JobSettings {
  recovery: RecoverySchedule
  /** Six-field cron of the recovery job (default every 5 s). */
  recoveryCron: string
}

/**
 * Everything the daemon schedules. The settlement issue adds its per-branch schedules here (a
 * provider reading the settlement accounts), next to the recovery job.
 */
export type JobProvider = (app: App, settings: JobSettings) => Promise<DaemonJob[]>

export const coreJobs: JobProvider = async (app, settings) => [
  {
    name: 'recovery',
    cron: settings.recoveryCron,
    async run() {
      const r = await runRecovery(app, { schedule: settings.recovery })
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
      const store = await app.store()
      const before = new Date(app.clock.now().getTime() - 7 * 86_400_000).toISOString()
      const r = await pruneTicks(store.db, before)
      return { summary: `removed ${Number(r.numDeletedRows)} job ticks older than 7 days` }
    },
  },
]

/** Settlement schedules plug in here: `JOB_PROVIDERS.push(settlementJobs)` or add it below. */
export const JOB_PROVIDERS: JobProvider[] = [coreJobs]

export async function daemonJobs(app: App, settings: JobSettings): Promise<DaemonJob[]> {
  const out: DaemonJob[] = []
  for (const p of JOB_PROVIDERS) out.push(...(await p(app, settings)))
  return out
}

/**
 * node-cron's run coordinator backed by the store: `shouldRun` claims the (job, tick) row;
 * `onComplete` records when it finished. The key is node-cron's `<name>:<slot ISO time>`.
 */
export function tickCoordinator(app: App, job: string, owner: string) {
  const tickOf = (key: string) => key.slice(key.indexOf(':') + 1)
  const outcomes = new Map<string, string>()
  return {
    async shouldRun(key: string): Promise<boolean> {
      const store = await app.store()
      return claimTick(store.db, job, tickOf(key), owner, app.clock.now().toISOString())
    },
    async onComplete(key: string): Promise<void> {
      const store = await app.store()
      const tick = tickOf(key)
      await finishTick(
        store.db,
        job,
        tick,
        owner,
        app.clock.now().toISOString(),
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
