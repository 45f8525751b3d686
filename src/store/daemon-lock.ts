import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { configError } from '../core/errors.js'

export interface DaemonLock {
  readonly path: string
  /** Rewrites the note beside the lock (pid, URL) that a refused second daemon prints. */
  note(extra?: Record<string, unknown>): void
  release(): void
}

/**
 * One daemon per SQLite store (and no daemon while `dsh restore` replaces the file): an exclusive lock held on `<db>.daemon-lock` for the daemon's
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

/** Who holds a store's daemon lock (pid and since), or null when nobody does. */
export async function daemonLockHolder(dbPath: string): Promise<Record<string, unknown> | null> {
  try {
    const lock = await acquireSqliteDaemonLock(dbPath, { pid: process.pid, probe: true })
    lock.release()
    return null
  } catch (err) {
    if ((err as { code?: string }).code !== 'daemon_already_running') throw err
    try {
      return JSON.parse(readFileSync(`${dbPath}.daemon-lock.json`, 'utf8')) as Record<
        string,
        unknown
      >
    } catch {
      return {}
    }
  }
}
