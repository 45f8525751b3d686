import type { Kysely } from 'kysely'
import { getSetting } from '../admin/settings.js'
import { audit } from '../audit/audit.js'
import { countInboxBefore, deleteInboxBefore } from '../callbacks/inbox.js'
import type { Ctx } from '../context.js'
import { validationError } from '../core/errors.js'
import {
  countEventsThrough,
  deleteOldestEvents,
  lastEventSeqBefore,
  latestEventSeq,
  oldestEventSeq,
} from '../payments/events.js'
import type { Database } from '../store/schema.js'
import { manualCheckpoints } from './retention-store.js'

/** Store keys of the two retention settings (`dsh config set events-retention 30d`). */
export const EVENTS_RETENTION_SETTING = 'events_retention'
export const INBOX_RETENTION_SETTING = 'inbox_retention'
export const DEFAULT_EVENTS_RETENTION_DAYS = 30
export const DEFAULT_INBOX_RETENTION_DAYS = 90

/**
 * Inbox entries that are finished with and may go once old: applied, ignored, orphaned. Others
 * (waiting, review, rejected, invalid, failed) stay until someone deals with them.
 */
export const PRUNABLE_INBOX_STATUSES = ['applied', 'ignored', 'orphaned'] as const

/** A retention period as typed: `30d` or `30` (whole days, 1 to 36500); stored as `30d`. */
export function parseRetention(value: string): string {
  const m = /^(\d{1,5})\s*d?$/i.exec(value.trim())
  const days = m ? Number(m[1]) : Number.NaN
  if (!(days >= 1 && days <= 36_500))
    throw validationError(
      'invalid_retention',
      `"${value.slice(0, 40)}" is not a retention period`,
      'give whole days, e.g. 30d (1d to 36500d)',
    )
  return `${days}d`
}

const daysOf = (stored: string | undefined, fallback: number) => {
  if (!stored) return fallback
  const n = Number.parseInt(stored, 10)
  return Number.isSafeInteger(n) && n >= 1 ? n : fallback
}

export interface PruneRequest {
  dryRun?: boolean | undefined
  /** Rows deleted by the first transaction (default 200); then sized so each takes about `targetMs`. */
  batchSize?: number | undefined
  /** The time one write transaction aims at (default 10 ms, leaving room under the 50 ms limit). */
  targetMs?: number | undefined
}

export interface PruneResult {
  dryRun: boolean
  /** The run's time (the injected clock): both cut-offs are counted back from it. */
  at: string
  events: {
    retention: string
    /** Events appended before this are removed. */
    before: string
    /** Removed (or, with dryRun, that would be). */
    removed: number
    /** The oldest event kept afterwards (null: none is left); an SSE resume older than it starts here. */
    oldestKeptSeq: number | null
  }
  inbox: {
    retention: string
    before: string
    statuses: string[]
    removed: number
  }
  /** Write transactions run, and the longest one, from its first statement to its commit. */
  transactions: number
  maxTransactionMs: number
  /** The 99th percentile of the transactions' times (0 when none ran). */
  p99TransactionMs: number
  elapsedMs: number
}

const MIN_BATCH = 20
const MAX_BATCH = 5_000
const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/**
 * Removes expired events and final inbox entries in small write transactions (each one's batch
 * grows or shrinks so it holds the write lock about `targetMs`), pausing between them so other
 * writers (the daemon acknowledging callbacks) get the lock. Payments, attempts, settlement and
 * audit rows are never touched. One audit row records each run (counts and cut-offs only).
 */
export async function prune(ctx: Ctx, req: PruneRequest = {}): Promise<PruneResult> {
  const started = performance.now()
  const store = await ctx.store()
  const now = ctx.clock.now()
  const eventsDays = daysOf(
    await getSetting(store.db, EVENTS_RETENTION_SETTING),
    DEFAULT_EVENTS_RETENTION_DAYS,
  )
  const inboxDays = daysOf(
    await getSetting(store.db, INBOX_RETENTION_SETTING),
    DEFAULT_INBOX_RETENTION_DAYS,
  )
  const eventsBefore = new Date(now.getTime() - eventsDays * 86_400_000).toISOString()
  const inboxBefore = new Date(now.getTime() - inboxDays * 86_400_000).toISOString()
  const targetMs = req.targetMs ?? 10
  let batch = Math.min(MAX_BATCH, Math.max(MIN_BATCH, req.batchSize ?? 200))
  let transactions = 0
  let costPerRow: number | undefined
  const times: number[] = []
  let maxTransactionMs = 0

  /** One timed write transaction; the next batch is sized from how long this one held the lock. */
  async function step(fn: (trx: Kysely<Database>) => Promise<number>) {
    let t0 = 0
    const n = await store.write(async (trx) => {
      t0 = performance.now()
      return fn(trx)
    })
    const ms = performance.now() - t0
    transactions++
    times.push(ms)
    maxTransactionMs = Math.max(maxTransactionMs, ms)
    // The next batch from a smoothed cost per row (one slow transaction, e.g. the process being
    // descheduled on a busy machine, does not collapse it), growing at most ×1.5 a step.
    if (n > 0) {
      const perRow = ms / n
      costPerRow = costPerRow === undefined ? perRow : costPerRow * 0.7 + perRow * 0.3
      const next = Math.floor((targetMs * 0.8) / costPerRow)
      batch = Math.min(MAX_BATCH, Math.max(MIN_BATCH, Math.min(next, Math.floor(batch * 1.5))))
    }
    // Let other writers in: the daemon's callback inserts never wait behind two batches.
    const t1 = performance.now()
    await checkpoints?.between()
    await pause(Math.max(1, Math.min(ms, targetMs) - (performance.now() - t1)))
    return n
  }

  const through = await lastEventSeqBefore(store.db, eventsBefore)
  let eventsRemoved = 0
  let inboxRemoved = 0
  let checkpoints: Awaited<ReturnType<typeof manualCheckpoints>> | undefined
  if (req.dryRun) {
    eventsRemoved = through === null ? 0 : await countEventsThrough(store.db, through)
    inboxRemoved = await countInboxBefore(store.db, PRUNABLE_INBOX_STATUSES, inboxBefore)
  } else {
    checkpoints = await manualCheckpoints(store)
    try {
      if (through !== null)
        for (;;) {
          const n = await step((trx) => deleteOldestEvents(trx, through, batch))
          eventsRemoved += n
          if (n === 0) break
        }
      for (const status of PRUNABLE_INBOX_STATUSES)
        for (;;) {
          const n = await step((trx) => deleteInboxBefore(trx, status, inboxBefore, batch))
          inboxRemoved += n
          if (n === 0) break
        }
    } finally {
      await checkpoints.restore()
      checkpoints = undefined
    }
  }
  // Events are removed as a prefix of their numbers, so what is kept runs from one number on.
  let oldest = await oldestEventSeq(store.db)
  if (req.dryRun && through !== null && oldest !== null)
    oldest = through < (await latestEventSeq(store.db)) ? through + 1 : null
  const result: PruneResult = {
    dryRun: req.dryRun === true,
    at: now.toISOString(),
    events: {
      retention: `${eventsDays}d`,
      before: eventsBefore,
      removed: eventsRemoved,
      oldestKeptSeq: oldest,
    },
    inbox: {
      retention: `${inboxDays}d`,
      before: inboxBefore,
      statuses: [...PRUNABLE_INBOX_STATUSES],
      removed: inboxRemoved,
    },
    transactions,
    maxTransactionMs: 0,
    p99TransactionMs: 0,
    elapsedMs: 0,
  }
  if (!req.dryRun)
    await step(async (trx) => {
      await audit(ctx, trx, {
        action: 'retention.prune',
        request: {
          eventsRetention: result.events.retention,
          eventsBefore,
          eventsRemoved,
          inboxRetention: result.inbox.retention,
          inboxBefore,
          inboxRemoved,
        },
      })
      return 0
    })
  result.transactions = transactions
  result.maxTransactionMs = Math.round(maxTransactionMs * 10) / 10
  const sorted = times.sort((a, b) => a - b)
  const p99 = sorted[Math.max(0, Math.ceil(sorted.length * 0.99) - 1)] ?? 0
  result.p99TransactionMs = Math.round(p99 * 10) / 10
  result.elapsedMs = Math.round(performance.now() - started)
  return result
}
