import { closeSync, copyFileSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import SQLite from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { describeCopy } from '../../src/backup/copy-facts.js'
import { dsh } from '../helpers/cli.js'
import { useStoreEnv } from '../helpers/dialects.js'

// The backup's check of its copy (integrity check, counts, audit head) reads every page: in the
// daemon it runs on a worker thread so the event loop keeps answering (issue 16 item 5).
// dist/ is what the daemon runs, and the only place the compiled worker exists.
const offThread = async () =>
  (
    (await import(
      pathToFileURL(join(__dirname, '..', '..', 'dist', 'src', 'backup', 'copy-facts.js')).href
    )) as typeof import('../../src/backup/copy-facts.js')
  ).describeCopyOffThread

/** The longest gap between ticks of a 5 ms interval while `fn` runs. */
async function longestGap(fn: () => Promise<unknown>): Promise<number> {
  let last = performance.now()
  let gap = 0
  // timer(clock): a 5 ms ticker whose late ticks measure how long the event loop was held
  const timer = setInterval(() => {
    const now = performance.now()
    gap = Math.max(gap, now - last)
    last = now
  }, 5)
  try {
    await fn()
    // timer(clock): a few more ticks after fn, so a block at its very end is measured too
    await new Promise((r) => setTimeout(r, 20))
  } finally {
    clearInterval(timer)
  }
  return gap
}

describe('backup copy check off the event loop', () => {
  const s = useStoreEnv('sqlite')

  it('the worker gives the same facts as the check in-thread, and the loop keeps ticking', async () => {
    for (const args of [['init'], ['tenant', 'add', 'acme', '--name', 'Acme']]) {
      const r = await dsh(args, { env: s.env })
      expect(r.code, r.stderr).toBe(0)
    }
    const big = join(s.home, 'big.db')
    copyFileSync(s.db, big)
    // Some 60 MB of rows for the integrity check to read.
    const db = new SQLite(big)
    db.exec('create table filler (id integer primary key, v blob not null)')
    db.exec('create index filler_v on filler (v)')
    const put = db.prepare('insert into filler (v) values (randomblob(2000))')
    db.transaction(() => {
      for (let i = 0; i < 15_000; i++) put.run()
    })()
    db.close()
    const copy = () => {
      const f = join(s.home, `copy-${Math.random().toString(36).slice(2)}.db`)
      copyFileSync(big, f)
      return f
    }
    let inThread: unknown
    const blocked = await longestGap(async () => {
      inThread = await describeCopy(copy())
    })
    let facts: unknown
    const describeCopyOffThread = await offThread()
    const free = await longestGap(async () => {
      facts = await describeCopyOffThread(copy())
    })
    expect(facts).toEqual(inThread)
    expect(facts).toMatchObject({ rowCounts: { tenants: 1, filler: 15_000 } })
    // Control: in-thread, the check holds the loop; on the worker it does not.
    expect(blocked).toBeGreaterThan(100)
    expect(free).toBeLessThan(blocked / 2)
  }, 60_000)

  it('a corrupt copy fails the same way on the worker as in-thread', async () => {
    const corrupt = () => {
      const f = join(s.home, `corrupt-${Math.random().toString(36).slice(2)}.db`)
      copyFileSync(s.db, f)
      const fd = openSync(f, 'r+')
      writeSync(fd, Buffer.alloc(8192, 0x5a), 0, 8192, 8192)
      closeSync(fd)
      return f
    }
    const here = await describeCopy(corrupt()).then(
      () => 'no error',
      (e: Error) => e.message,
    )
    expect(here).toMatch(/malformed|integrity check/)
    const describeCopyOffThread = await offThread()
    await expect(describeCopyOffThread(corrupt())).rejects.toThrow(here)
  })
})
