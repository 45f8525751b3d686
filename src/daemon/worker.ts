import { dueInbox } from '../callbacks/inbox.js'
import {
  type ProcessOptions,
  processInboxEntry,
  wakeMatchedCallbacks,
} from '../callbacks/process.js'
import type { Ctx } from '../context.js'
import { latestEventSeq } from '../payments/events.js'
import type { Logger } from './log.js'
import type { Metrics } from './metrics.js'

export interface InboxWorker {
  /** Something was stored: look now rather than at the next poll. */
  kick(): void
  start(): void
  /** Finishes the entries in hand, takes no new ones. */
  stop(timeoutMs: number): Promise<void>
  /** When the loop last went round (health). */
  lastLoopAt(): number
  /** Waiting for a kick or the next poll, nothing in hand (tests wait for this state). */
  waiting(): boolean
}

export interface WorkerOptions extends ProcessOptions {
  /** How often to look for due entries when nothing kicks the worker. */
  pollMs: number
  /** Entries processed at once (lanes) when no request is being answered. */
  concurrency: number
  /**
   * Lanes while requests are being answered (default: concurrency). Each lane's entry runs to its
   * next wait in one go, so fewer lanes keep the gaps between a request's steps short.
   */
  answeringConcurrency?: number
  /** Entries taken per round (default 64). */
  batch?: number
  /**
   * While requests are being answered, processing runs in slices of at most `sliceMs` (default
   * 50 ms), yielding to the requests between every two entries, and rests after each slice so it
   * takes about this share of the time (it always gets that share while a backlog waits):
   * acknowledging callbacks comes first, but never starves processing.
   */
  busyShare: number
  sliceMs?: number
  /** The shortest rest after a busy slice (default 1 ms). */
  minRestMs?: number
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
const yieldToIo = () => new Promise<void>((r) => setImmediate(r))

/**
 * Processes the inbox after acknowledgement: entries due now (new, retries after back-off,
 * unmatched ones whose payment appeared, claims abandoned by a dead worker).
 */
export function createInboxWorker(
  app: Ctx,
  opts: WorkerOptions,
  log: Logger,
  metrics: Metrics,
  busy: () => boolean,
  /** Requests are being answered right now (default: never). */
  answering: () => boolean = () => false,
): InboxWorker {
  let stopped = true
  let wake: (() => void) | undefined
  /** A kick since the last look for due entries: it may have stored one that look missed. */
  let kicked = false
  let loop: Promise<void> | undefined
  let lastLoop = Date.now()
  let eventSeq = -1
  let lastWake = 0

  const waitForKick = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms)
      function done() {
        clearTimeout(t)
        wake = undefined
        resolve()
      }
      wake = done
    })

  async function one(id: string): Promise<void> {
    try {
      const r = await processInboxEntry(app, id, opts)
      if (!r.claimed) return
      metrics.inc('dsh_callbacks_processed_total', { status: r.status })
      const fields = { callback: id, status: r.status, payment: r.paymentId, note: r.note }
      if (r.status === 'received' || r.status === 'unmatched') log.debug('callback.waiting', fields)
      else if (['applied', 'ignored'].includes(r.status)) log.info('callback.processed', fields)
      else log.warn('callback.processed', fields)
    } catch (err) {
      log.error('callback.process_failed', { callback: id, error: (err as Error).message })
    }
  }

  /** Unmatched callbacks whose payment has shown up since the last look become due now. */
  async function wakeUnmatched(): Promise<void> {
    const now = Date.now()
    if (now - lastWake < opts.pollMs) return
    lastWake = now
    const store = await app.store()
    if (eventSeq < 0) eventSeq = await latestEventSeq(store.db)
    for (let i = 0; i < 10; i++) {
      const r = await wakeMatchedCallbacks(app, eventSeq)
      if (r.woken > 0) log.debug('callback.woken', { count: r.woken })
      if (r.seq === eventSeq) break
      eventSeq = r.seq
    }
  }

  /**
   * One round: up to `batch` due entries, `concurrency` at a time, each lane yielding to I/O
   * after every entry (requests and the inbox's group commits get in between). While the daemon
   * is answering requests the round stops at its slice's end and the worker rests, so processing
   * takes about `busyShare` of the time; when it is quiet, rounds follow each other at once.
   */
  async function run(): Promise<void> {
    const store = await app.store()
    const sliceMs = opts.sliceMs ?? 50
    const share = Math.min(1, Math.max(0.05, opts.busyShare))
    while (!stopped) {
      lastLoop = Date.now()
      kicked = false
      let due: { id: string }[]
      try {
        await wakeUnmatched()
        due = await dueInbox(store.db, app.clock.now().toISOString(), opts.batch ?? 64)
      } catch (err) {
        log.error('inbox.poll_failed', { error: (err as Error).message })
        await sleep(opts.pollMs)
        continue
      }
      if (due.length === 0) {
        // A kick that came while the look was on (PostgreSQL answers over a socket) would
        // otherwise be lost, and its entry wait a whole poll interval.
        if (!kicked) await waitForKick(opts.pollMs)
        continue
      }
      const started = performance.now()
      const sliced = busy()
      const deadline = sliced ? started + sliceMs : Number.POSITIVE_INFINITY
      let next = 0
      const lane = async () => {
        // At least one entry per lane and round: processing always progresses.
        while (!stopped && next < due.length) {
          await one(due[next++]!.id)
          // The store calls resolve as microtasks: yield so that requests get in between.
          await yieldToIo()
          if (performance.now() >= deadline) break
        }
      }
      const lanes = answering() ? (opts.answeringConcurrency ?? opts.concurrency) : opts.concurrency
      await Promise.all(Array.from({ length: Math.max(1, lanes) }, lane))
      if (sliced || busy()) {
        const spent = performance.now() - started
        await sleep(Math.max(opts.minRestMs ?? 1, (spent * (1 - share)) / share))
      }
    }
  }

  return {
    kick() {
      kicked = true
      wake?.()
    },
    start() {
      if (!stopped) return
      stopped = false
      loop = run().catch((err) =>
        log.error('inbox.worker_crashed', { error: (err as Error).message }),
      )
    },
    async stop(timeoutMs) {
      stopped = true
      wake?.()
      if (loop) await Promise.race([loop, sleep(timeoutMs)])
    },
    lastLoopAt: () => lastLoop,
    waiting: () => wake !== undefined,
  }
}
