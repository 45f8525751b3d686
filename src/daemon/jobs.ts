import type { Ctx } from '../context.js'
import { configError } from '../core/errors.js'
import type { Logger } from './log.js'
import type { Metrics } from './metrics.js'
import { type DaemonJob, daemonJobs, type JobSettings, tickCoordinator } from './scheduler.js'

export interface JobRunner {
  /** Per job: scheduled and beating on time. */
  alive(): Record<string, boolean>
  stop(timeoutMs: number): Promise<void>
}

interface Running {
  job: DaemonJob
  task: import('node-cron').ScheduledTask
  lastBeat: number
  /** Longest expected gap between two ticks (for health). */
  periodMs: number
  current: Promise<unknown> | undefined
}

/**
 * Schedules the daemon's jobs with node-cron. Every tick goes through the store's tick claim
 * (node-cron's distributed mode with our coordinator), so daemons sharing a PostgreSQL store run
 * each tick once; `noOverlap` keeps a slow run from overlapping the next in this daemon.
 */
export async function startJobs(
  app: Ctx,
  settings: JobSettings,
  owner: string,
  log: Logger,
  metrics: Metrics,
): Promise<JobRunner> {
  const cron = await import('node-cron')
  const jobs = await daemonJobs(app, settings)
  const cronLog = {
    info: (m: string) => log.debug('cron', { detail: m }),
    warn: (m: string) => log.debug('cron', { detail: m }),
    error: (m: string | Error) => log.error('cron', { detail: String(m) }),
    debug: () => {},
  }
  const running: Running[] = []
  for (const job of jobs) {
    if (!cron.validate(job.cron))
      throw configError('invalid_cron', `job ${job.name}: "${job.cron}" is not a cron expression`)
    const coordinator = tickCoordinator(app, job.name, owner)
    const entry = { job, lastBeat: Date.now(), current: undefined } as Running
    const task = cron.createTask(
      job.cron,
      async (ctx) => {
        entry.lastBeat = Date.now()
        const started = performance.now()
        const work = job.run(ctx.date)
        entry.current = work
        try {
          const r = await work
          coordinator.remember(ctx.date, r.summary)
          metrics.inc('dsh_jobs_runs_total', { job: job.name, result: 'ok' })
          log[r.idle ? 'debug' : 'info']('job.run', {
            job: job.name,
            tick: ctx.date.toISOString(),
            ms: Math.round(performance.now() - started),
            summary: r.summary,
          })
        } catch (err) {
          coordinator.remember(ctx.date, `failed: ${(err as Error).message}`)
          metrics.inc('dsh_jobs_runs_total', { job: job.name, result: 'failed' })
          log.error('job.failed', { job: job.name, tick: ctx.date.toISOString(), error: err })
        } finally {
          entry.current = undefined
        }
      },
      {
        name: job.name,
        noOverlap: true,
        distributed: true,
        runCoordinator: coordinator,
        logger: cronLog,
        suppressMissedWarning: true,
        ...(job.timezone ? { timezone: job.timezone } : {}),
      },
    )
    task.on('execution:skipped', (ctx) => {
      entry.lastBeat = Date.now()
      metrics.inc('dsh_jobs_runs_total', { job: job.name, result: 'skipped' })
      log.debug('job.skip', {
        job: job.name,
        tick: ctx.date.toISOString(),
        reason: ctx.reason === 'not-elected' ? 'another daemon claimed this tick' : ctx.reason,
      })
    })
    const next = task.getNextRuns(2)
    entry.task = task
    entry.periodMs =
      next.length === 2 ? Math.max(1000, next[1]!.getTime() - next[0]!.getTime()) : 86_400_000
    await task.start()
    running.push(entry)
    log.info('job.scheduled', { job: job.name, cron: job.cron, next: task.getNextRun() })
  }
  return {
    alive() {
      const now = Date.now()
      return Object.fromEntries(
        running.map((r) => {
          const status = r.task.getStatus()
          // On time: ticked recently, or a run in progress for less than 10 minutes.
          const onTime =
            r.periodMs > 3_600_000 ||
            now - r.lastBeat < r.periodMs * 3 + 5_000 ||
            (r.current !== undefined && now - r.lastBeat < 600_000)
          return [r.job.name, (status === 'idle' || status === 'running') && onTime]
        }),
      )
    },
    async stop(timeoutMs) {
      for (const r of running) await r.task.stop()
      const busy = running.map((r) => r.current).filter(Boolean)
      if (busy.length > 0)
        await Promise.race([
          Promise.allSettled(busy),
          new Promise((resolve) => setTimeout(resolve, timeoutMs)),
        ])
      for (const r of running) await r.task.destroy()
    },
  }
}
