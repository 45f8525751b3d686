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
  /** Rows deleted by the first transaction; adapted so each stays under `targetMs` (default 500). */
  batchSize?: number | undefined
  /** The time one write transaction aims at (default 20 ms; the limit is 50 ms). */
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
  elapsedMs: number
}

const MIN_BATCH = 20
const MAX_BATCH = 20_000
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
  const targetMs = req.targetMs ?? 20
  let batch = Math.min(MAX_BATCH, Math.max(MIN_BATCH, req.batchSize ?? 500))
  let transactions = 0
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
    maxTransactionMs = Math.max(maxTransactionMs, ms)
    if (ms > targetMs) batch = Math.max(MIN_BATCH, Math.floor((batch * targetMs) / ms / 1.5))
    else if (ms < targetMs / 2) batch = Math.min(MAX_BATCH, batch * 2)
    // Let other writers in: the daemon's callback inserts never wait behind two batches.
    await pause(Math.max(1, Math.min(ms, targetMs)))
    return n
  }

  const through = await lastEventSeqBefore(store.db, eventsBefore)
  let eventsRemoved = 0
  let inboxRemoved = 0
  if (req.dryRun) {
    eventsRemoved = through === null ? 0 : await countEventsThrough(store.db, through)
    inboxRemoved = await countInboxBefore(store.db, PRUNABLE_INBOX_STATUSES, inboxBefore)
  } else {
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
    maxTransactionMs: Math.round(maxTransactionMs * 10) / 10,
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
  result.elapsedMs = Math.round(performance.now() - started)
  return result
}
