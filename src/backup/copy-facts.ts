import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { headOf } from '../audit/audit.js'
import { DshError, type ErrorKind } from '../core/errors.js'
import { openSqliteCopy } from '../store/connect.js'
import { appliedMigrations, integrityCheck, leaveWalMode, rowCounts } from './backup-store.js'

export interface CopyFacts {
  migrations: string[]
  rowCounts: Record<string, number>
  auditHead: { seq: number; hash: string }
}

/**
 * A SQLite copy checked and described from itself: integrity check, applied migrations, row
 * counts and audit head. Reads every page of the copy (seconds on a year of payments).
 */
export async function describeCopy(file: string): Promise<CopyFacts> {
  const copy = await openSqliteCopy(file, { writable: true })
  try {
    await leaveWalMode(copy.db)
    const check = await integrityCheck(copy.db)
    if (check !== 'ok')
      throw new DshError(
        'internal',
        'backup_corrupt',
        `the copy failed its integrity check: ${check}`,
      )
    const head = await headOf(copy.db)
    return {
      migrations: await appliedMigrations(copy.db),
      rowCounts: await rowCounts(copy.db),
      auditHead: { seq: head.seq, hash: head.hash },
    }
  } finally {
    await copy.close()
  }
}

type WorkerAnswer =
  | { ok: true; facts: CopyFacts }
  | { ok: false; kind: ErrorKind | undefined; code: string | undefined; message: string }

const WORKER = new URL('./copy-facts-worker.js', import.meta.url)

/**
 * describeCopy on a worker thread: better-sqlite3 is synchronous, and the daemon's nightly
 * backup must not hold its event loop (callbacks, API) for the seconds the check takes. Run from
 * the TypeScript sources (tests), where there is no compiled worker, it runs here instead.
 */
export function describeCopyOffThread(file: string): Promise<CopyFacts> {
  if (!existsSync(fileURLToPath(WORKER))) return describeCopy(file)
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: { file } })
    let answered = false
    worker.once('message', (m: WorkerAnswer) => {
      answered = true
      if (m.ok) resolve(m.facts)
      else reject(m.kind && m.code ? new DshError(m.kind, m.code, m.message) : new Error(m.message))
    })
    worker.once('error', (err) => {
      answered = true
      reject(err)
    })
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`the backup check worker exited ${code} without an answer`))
    })
  })
}
