import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import type { Kysely } from 'kysely'
import { configError } from '../core/errors.js'
import type { Database } from '../store/schema.js'

/**
 * Claims one tick of a scheduled job: the daemon whose insert wins runs it, every other daemon
 * skips it, and a daemon that comes late finds the row and never re-runs a finished tick.
 */
export async function claimTick(
  db: Kysely<Database>,
  job: string,
  tick: string,
  owner: string,
  nowIso: string,
): Promise<boolean> {
  const r = await db
    .insertInto('job_ticks')
    .values({ job, tick, owner, started_at: nowIso, finished_at: null, outcome: null })
    .onConflict((oc) => oc.columns(['job', 'tick']).doNothing())
    .executeTakeFirst()
  return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1
}

export const finishTick = (
  db: Kysely<Database>,
  job: string,
  tick: string,
  owner: string,
  nowIso: string,
  outcome: string,
) =>
  db
    .updateTable('job_ticks')
    .set({ finished_at: nowIso, outcome: outcome.slice(0, 500) })
    .where('job', '=', job)
    .where('tick', '=', tick)
    .where('owner', '=', owner)
    .execute()

export const listTicks = (db: Kysely<Database>, job?: string) => {
  let q = db.selectFrom('job_ticks').selectAll()
  if (job) q = q.where('job', '=', job)
  return q.orderBy('tick').execute()
}

export const pruneTicks = (db: Kysely<Database>, beforeIso: string) =>
  db.deleteFrom('job_ticks').where('started_at', '<', beforeIso).executeTakeFirst()

export interface DaemonLock {
  readonly path: string
  /** Rewrites the note beside the lock (pid, URL) that a refused second daemon prints. */
  note(extra?: Record<string, unknown>): void
  release(): void
}

/**
 * One daemon per SQLite store: an exclusive lock held on `<db>.daemon-lock` for the daemon's
 * life (a second connection with `BEGIN EXCLUSIVE` on a rollback-journal SQLite file, taken
 * without waiting). The operating system drops the lock when the process ends, even by kill -9,
 * so a restart is never blocked by a stale lock file.
 */
export async function acquireSqliteDaemonLock(
  dbPath: string,
  holder: Record<string, unknown>,
): Promise<DaemonLock> {
  const path = `${dbPath}.daemon-lock`
  const info = `${path}.json`
  const { default: SQLite } = await import('better-sqlite3')
  // The lock file (and its journal, which SQLite makes with the same mode) is the user's alone.
  try {
    closeSync(openSync(path, 'wx', 0o600))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  const conn = new SQLite(path, { timeout: 0 })
  try {
    conn.pragma('journal_mode = DELETE')
    conn.exec('BEGIN EXCLUSIVE')
  } catch (err) {
    conn.close()
    const code = (err as { code?: string }).code ?? ''
    if (!code.startsWith('SQLITE_BUSY') && !code.startsWith('SQLITE_LOCKED')) throw err
    let who = ''
    try {
      const h = JSON.parse(readFileSync(info, 'utf8')) as Record<string, unknown>
      who = ` (pid ${String(h['pid'])}, listening on ${String(h['url'] ?? '?')}, since ${String(h['startedAt'])})`
    } catch {
      // the holder has not written its note yet, or it was removed
    }
    throw configError(
      'daemon_already_running',
      `another dsh daemon is already running on ${dbPath}${who}`,
      'a SQLite store takes one daemon; stop the other one (SIGTERM) or use PostgreSQL for several',
    )
  }
  const note = (extra: Record<string, unknown> = {}) => {
    try {
      writeFileSync(info, `${JSON.stringify({ ...holder, ...extra })}\n`, { mode: 0o600 })
    } catch {
      // informational only
    }
  }
  note()
  let released = false
  return {
    path,
    note,
    release() {
      if (released) return
      released = true
      try {
        conn.exec('ROLLBACK')
      } finally {
        conn.close()
        rmSync(info, { force: true })
      }
    },
  }
}
