import {
  type InboxInsert,
  type InboxWriteResult,
  insertInboxBatch,
  isBusy,
  openSqliteInboxWriter,
} from '../callbacks/inbox.js'
import type { Store } from '../store/connect.js'
import { HttpError } from './http-errors.js'

/**
 * Group commit for the callback inbox: every callback waiting at the end of one turn of the event
 * loop goes into one transaction, and each request is answered only after that commit.
 */
export interface InboxWriter {
  write(row: InboxInsert): Promise<InboxWriteResult>
  /** Resolves when everything queued so far is committed (or refused). */
  drain(): Promise<void>
  close(): void
}

interface Pending {
  row: InboxInsert
  at: number
  resolve(r: InboxWriteResult): void
  reject(e: unknown): void
}

/** How long a callback may wait for the store before it is refused (503, not acknowledged). */
const MAX_WAIT_MS = 5_000
const MAX_BATCH = 500

const unavailable = () =>
  new HttpError(
    503,
    'store_busy',
    'the store is busy; the callback was not stored, send it again',
    {
      'retry-after': '1',
    },
  )

export async function createInboxWriter(store: Store, dbSpec: string): Promise<InboxWriter> {
  const queue: Pending[] = []
  let scheduled = false
  let inflight = 0
  let drained: (() => void)[] = []
  const settle = () => {
    if (queue.length === 0 && inflight === 0) for (const d of drained.splice(0)) d()
  }
  const schedule = (delayMs = 0) => {
    if (scheduled) return
    scheduled = true
    if (delayMs === 0) setImmediate(flush)
    else setTimeout(flush, delayMs)
  }
  const expire = () => {
    const now = Date.now()
    for (let i = queue.length - 1; i >= 0; i--) {
      if (now - queue[i]!.at > MAX_WAIT_MS) queue.splice(i, 1)[0]!.reject(unavailable())
    }
  }

  let flush: () => void
  let close: () => void
  if (store.dialect === 'sqlite') {
    // A dedicated connection that never busy-waits: when another process holds the write lock,
    // the batch goes back in the queue and the event loop keeps serving.
    const native = await openSqliteInboxWriter(dbSpec)
    close = () => native.close()
    flush = () => {
      scheduled = false
      const batch = queue.splice(0, MAX_BATCH)
      if (batch.length > 0) {
        try {
          const results = native.write(batch.map((p) => p.row))
          for (const [i, p] of batch.entries()) p.resolve(results[i]!)
        } catch (err) {
          if (isBusy(err)) {
            queue.unshift(...batch)
            expire()
            schedule(2)
            return
          }
          for (const p of batch) p.reject(err)
        }
      }
      if (queue.length > 0) schedule()
      else settle()
    }
  } else {
    // PostgreSQL: a few batches in flight on the pool; the next one gathers while they commit.
    close = () => {}
    flush = () => {
      scheduled = false
      while (inflight < 4 && queue.length > 0) {
        const batch = queue.splice(0, MAX_BATCH)
        inflight++
        store
          .write((trx) =>
            insertInboxBatch(
              trx,
              batch.map((p) => p.row),
            ),
          )
          .then(
            (results) => {
              for (const [i, p] of batch.entries()) p.resolve(results[i]!)
            },
            (err) => {
              for (const p of batch) p.reject(err)
            },
          )
          .finally(() => {
            inflight--
            if (queue.length > 0) schedule()
            else settle()
          })
      }
    }
  }

  return {
    write(row) {
      return new Promise((resolve, reject) => {
        queue.push({ row, at: Date.now(), resolve, reject })
        schedule()
      })
    },
    drain() {
      return new Promise((resolve) => {
        drained.push(resolve)
        settle()
      })
    },
    close() {
      drained = []
      close()
    },
  }
}
