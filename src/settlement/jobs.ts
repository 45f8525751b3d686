import type { Ctx, JobProvider } from '../context.js'
import { cutoffsBetween, localDate } from '../core/schedule.js'
import { scheduleOf } from './account-fields.js'
import { accountsWithBranch, runPeriods } from './batches-store.js'
import { settle } from './settle.js'

export interface DueRunsResult {
  ran: number
  batches: number
  sent: number
  carriedOver: number
  errors: string[]
}

/** How far back a daemon that was down catches up (older leftovers still carry over). */
const CATCH_UP_DAYS = 400

/**
 * Runs every scheduled cut-off of every `auto` settlement account that is due and not yet in
 * `settlement_runs`, oldest first, once each: a daemon that was down catches up on the periods it
 * missed. Accounts and schedules are read on every tick, so changes apply without a restart.
 */
export async function runDueSettlements(ctx: Ctx, maxRuns = 100): Promise<DueRunsResult> {
  const store = await ctx.store()
  const now = ctx.clock.now()
  const out: DueRunsResult = { ran: 0, batches: 0, sent: 0, carriedOver: 0, errors: [] }
  for (const a of await accountsWithBranch(store.db, { autoOnly: true })) {
    const floor = new Date(now.getTime() - CATCH_UP_DAYS * 86_400_000)
    const created = new Date(a.created_at)
    const since = created.getTime() > floor.getTime() ? created : floor
    const s = scheduleOf(a)
    const due = cutoffsBetween(s, a.branch_timezone, since, now)
    if (due.length === 0) continue
    const done = new Set(
      (await runPeriods(store.db, a.id, since.toISOString())).map((r) => r.period_end),
    )
    for (const cutoff of due) {
      if (done.has(cutoff.toISOString())) continue
      if (out.ran >= maxRuns) return out
      try {
        const { report, failures } = await settle(ctx, {
          accountId: a.id,
          date: localDate(cutoff, a.branch_timezone),
        })
        out.ran++
        out.batches += report.batches.length
        out.sent += report.sent.length
        out.carriedOver += report.carriedOver.length
        for (const f of failures) out.errors.push(`${a.branch_code} ${f.reference}: ${f.message}`)
      } catch (err) {
        out.errors.push(
          `${a.branch_code} ${a.currency} ${cutoff.toISOString()}: ${(err as Error).message}`,
        )
        break
      }
    }
  }
  return out
}

/** The daemon's `settlement` job: one tick a minute over every account (see runDueSettlements). */
export const settlementJobs: JobProvider = async (ctx) => [
  {
    name: 'settlement',
    cron: '0 * * * * *',
    async run() {
      const r = await runDueSettlements(ctx)
      for (const e of r.errors) ctx.warn(`settlement: ${e}`)
      return {
        summary: `ran ${r.ran} period(s): ${r.batches} batch(es), ${r.sent} sent, ${r.carriedOver} carried over, ${r.errors.length} error(s)`,
        idle: r.ran === 0 && r.errors.length === 0,
      }
    },
  },
]
