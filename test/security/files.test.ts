import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { freePort, startDaemon } from '../daemon/helpers.js'
import { dsh } from '../helpers/cli.js'
import { tempHome } from '../helpers/temp-home.js'

/** Issue 10, item 6: every file dsh writes is private. */
const mode = (p: string) => statSync(p).mode & 0o777

describe.runIf(process.platform !== 'win32')('files dsh writes', () => {
  it('in a home made with mode 755: store, WAL, SHM and daemon lock are 0600, with a warning', async () => {
    const { home, cleanup } = tempHome()
    try {
      chmodSync(home, 0o755)
      const env = { DSH_HOME: home }
      const init = await dsh(['init'], { env })
      expect(init.code, init.stderr).toBe(0)
      expect(init.stderr).toContain(
        `${home} can be read by other users (mode 755); it holds phone numbers and payment records: run chmod 700 ${home}`,
      )
      for (const args of [
        ['tenant', 'add', 'acme', '--name', 'Acme'],
        ['branch', 'add', 'w', '--tenant', 'acme', '--name', 'W', '--currency', 'KES'],
        ['gateway', 'setup', 'cash', '--tenant', 'acme'],
        ['gateway', 'migrate', '--tenant', 'acme'],
      ]) {
        const r = await dsh(args, { env })
        expect(r.code, r.stderr).toBe(0)
      }
      const port = await freePort()
      const d = await startDaemon(env, ['--port', String(port)])
      try {
        const files = readdirSync(home)
        for (const name of [
          'dsh.db',
          'dsh.db-wal',
          'dsh.db-shm',
          'dsh.db.daemon-lock',
          'master.key',
        ])
          expect(files, name).toContain(name)
        for (const name of files) {
          const p = join(home, name)
          expect(mode(p), name).toBe(statSync(p).isDirectory() ? 0o700 : 0o600)
        }
        const backups = join(home, 'backups')
        expect(existsSync(backups)).toBe(true)
        for (const name of readdirSync(backups)) expect(mode(join(backups, name)), name).toBe(0o600)
      } finally {
        expect(await d.stop()).toBe(0)
      }
      // The store readable by others is named too.
      chmodSync(join(home, 'dsh.db'), 0o644)
      chmodSync(home, 0o700)
      const list = await dsh(['tenant', 'list'], { env })
      expect(list.code).toBe(0)
      expect(list.stderr).toContain(`${join(home, 'dsh.db')} can be read by other users (mode 644)`)
      expect(list.stderr).not.toContain(`${home} can be read`)
    } finally {
      cleanup()
    }
  })

  it('a new store folder is made 0700', async () => {
    const { home, cleanup } = tempHome()
    try {
      const db = join(home, 'deeper', 'store.db')
      const r = await dsh(['init', '--db', db], { env: { DSH_HOME: join(home, 'h') } })
      expect(r.code, r.stderr).toBe(0)
      expect(mode(join(home, 'deeper'))).toBe(0o700)
      expect(mode(join(home, 'h'))).toBe(0o700)
      expect(mode(db)).toBe(0o600)
    } finally {
      cleanup()
    }
  })
})
