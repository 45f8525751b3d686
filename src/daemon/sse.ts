import type { ServerResponse } from 'node:http'
import type { Kysely } from 'kysely'
import { eventJson, latestEventSeq, listEventsAfter, oldestEventSeq } from '../payments/events.js'
import type { Database } from '../store/schema.js'
import { lastEventId, type Req } from './http.js'
import type { Logger } from './log.js'

interface Subscriber {
  res: ServerResponse
  /** null: every tenant (an unscoped token). */
  tenantId: string | null
  branchId: string | null
  /** The last event number this subscriber has passed (sent or filtered out). */
  lastSeq: number
  /** Whether the stream's token still allows it (re-checked every `recheckMs`). */
  allowed?: (() => Promise<boolean>) | undefined
  checking: boolean
}

export interface EventHub {
  /** Streams events after `lastEventId` (or from now) to `res` until it closes. */
  subscribe(
    res: ServerResponse,
    filter: { tenantId: string | null; branchId: string | null },
    lastEventId: number | undefined,
    /** Re-checked at least once a second: false (a revoked token, another scope) ends the stream. */
    allowed?: () => Promise<boolean>,
  ): Promise<void>
  size(): number
  close(): void
}

/**
 * Streams to `res` the events of the caller's tenant (and of `branch`, when given) from the
 * request's Last-Event-ID, while `live()` still holds.
 */
export const followEvents = (
  hub: EventHub,
  req: Req,
  res: ServerResponse,
  caller: { tenantId: string | null },
  branch: { id: string } | undefined,
  live: () => Promise<boolean>,
) =>
  hub.subscribe(
    res,
    { tenantId: caller.tenantId, branchId: branch?.id ?? null },
    lastEventId(req),
    live,
  )

/**
 * Live events from the store's append-only events table: changes made by `dsh pay` in other
 * processes and by other daemons appear too. One poll serves every subscriber; each keeps its own
 * position, so `Last-Event-ID` resumes exactly where a stream stopped.
 */
export function createEventHub(
  db: Kysely<Database>,
  log: Logger,
  pollMs = 250,
  heartbeatMs = 15_000,
  recheckMs = 500,
): EventHub {
  const subs = new Set<Subscriber>()
  let polling = false
  let closed = false

  const send = (s: Subscriber, text: string) => {
    if (!s.res.writableEnded) s.res.write(text)
  }

  async function poll(): Promise<void> {
    if (polling || subs.size === 0) return
    polling = true
    try {
      for (;;) {
        const from = Math.min(...[...subs].map((s) => s.lastSeq))
        const rows = await listEventsAfter(db, from, 500)
        for (const row of rows) {
          const seq = Number(row.seq)
          for (const s of subs) {
            if (seq <= s.lastSeq) continue
            s.lastSeq = seq
            if (s.tenantId && row.tenant_id !== s.tenantId) continue
            if (s.branchId && row.branch_id !== s.branchId) continue
            send(s, `id: ${seq}\nevent: payment\ndata: ${eventJson(row)}\n\n`)
          }
        }
        if (rows.length < 500) break
      }
    } catch (err) {
      log.warn('events.poll_failed', { error: (err as Error).message })
    } finally {
      polling = false
    }
  }

  /** Ends every stream whose token no longer allows it, before the next poll can feed it. */
  async function recheck(): Promise<void> {
    await Promise.all(
      [...subs].map(async (s) => {
        if (!s.allowed || s.checking) return
        s.checking = true
        try {
          if (await s.allowed()) return
        } catch (err) {
          log.warn('events.recheck_failed', { error: (err as Error).message })
          return
        } finally {
          s.checking = false
        }
        subs.delete(s)
        if (!s.res.writableEnded)
          s.res.end('event: end\ndata: {"reason":"token no longer allows this stream"}\n\n')
      }),
    )
  }

  const timer = setInterval(() => void poll(), pollMs)
  const rechecker = setInterval(() => void recheck(), recheckMs)
  const beat = setInterval(() => {
    for (const s of subs) send(s, ': keep-alive\n\n')
  }, heartbeatMs)

  return {
    async subscribe(res, filter, lastEventId, allowed) {
      let start = lastEventId ?? (await latestEventSeq(db))
      // Events after Last-Event-ID that retention removed cannot be replayed: resume from the
      // oldest kept one and say so (a `notice` event, without an id) before any payment event.
      let notice: string | undefined
      if (lastEventId !== undefined) {
        const oldest = (await oldestEventSeq(db)) ?? (await latestEventSeq(db)) + 1
        if (lastEventId < oldest - 1) {
          start = oldest - 1
          notice = `event: notice\ndata: ${JSON.stringify({
            type: 'events.pruned',
            lastEventId,
            oldestKeptSeq: oldest,
            message: `events ${lastEventId + 1} to ${oldest - 1} were removed by retention (events-retention); resuming from the oldest kept event, ${oldest}`,
          })}\n\n`
        }
      }
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      })
      res.write(`retry: 2000\n: dsh events from ${start}\n\n`)
      if (notice) res.write(notice)
      if (closed) {
        res.end()
        return
      }
      const s: Subscriber = { res, ...filter, lastSeq: start, allowed, checking: false }
      subs.add(s)
      res.on('close', () => subs.delete(s))
      void poll()
    },
    size: () => subs.size,
    close() {
      closed = true
      clearInterval(timer)
      clearInterval(rechecker)
      clearInterval(beat)
      for (const s of subs) s.res.end()
      subs.clear()
    },
  }
}
