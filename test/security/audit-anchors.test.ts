import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { beforeAll, describe, expect, it } from 'vitest'
import { DSH_BIN, dsh } from '../helpers/cli.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'

/*
 * Audit anchors and verdicts in pipes (issue 23, item 8): an anchors file with nothing in it is
 * no proof (exit 3), a huge or endless one is refused before it is read whole, and a verdict
 * stands when the reader of stdout stops early (`dsh audit verify | head -1` exits 8 on a broken
 * chain, as `PIPESTATUS[0]` shows).
 */

describe.each(DIALECTS)('audit anchors and verdicts on $name', ({ name, enabled }) => {
  const env = useStoreEnv(name)
  const run = (...args: string[]) => dsh(args, { env: env.env, timeoutMs: 60_000 })
  /** `dsh <args> | <reader>` in bash: dsh's own exit code and what the reader printed. */
  const piped = (args: string, reader: string) => {
    const sh = spawnSync(
      'bash',
      ['-c', `"${process.execPath}" "${DSH_BIN}" ${args} | ${reader}; echo "rc=\${PIPESTATUS[0]}"`],
      { env: { ...process.env, ...env.env, NO_COLOR: '1' }, encoding: 'utf8' },
    )
    const rc = /rc=(\d+)\n$/.exec(sh.stdout)
    return { rc: Number(rc?.[1]), out: sh.stdout.replace(/rc=\d+\n$/, ''), err: sh.stderr }
  }

  beforeAll(async () => {
    if (!enabled) return
    for (const args of [
      ['init'],
      ['tenant', 'add', 'acme', '--name', 'Acme'],
      ['branch', 'add', 'westlands', '--tenant', 'acme', '--name', 'W', '--currency', 'KES'],
    ]) {
      const r = await run(...args)
      expect(r.code, r.stderr).toBe(0)
    }
  }, 60_000)

  it.runIf(enabled)(
    'an empty anchors file is exit 3 (no anchors); /dev/zero and a directory are refused with exit 3',
    async () => {
      const head = await run('audit', 'head', '--json')
      const good = join(env.home, 'anchors.log')
      writeFileSync(good, head.stdout)
      expect((await run('audit', 'verify', '--anchors', good)).code).toBe(0)
      const empty = join(env.home, 'empty.log')
      writeFileSync(empty, '\n\n')
      const e = await run('audit', 'verify', '--anchors', empty, '--json')
      expect(e.code).toBe(3)
      expect(JSON.parse(e.stderr).error).toMatchObject({
        code: 'no_anchors',
        message: `no anchors in ${empty}: the file is empty, so nothing could be checked`,
      })
      expect(e.stdout).toBe('')
      const zero = await run('audit', 'verify', '--anchors', '/dev/zero')
      expect(zero.code).toBe(3)
      expect(zero.stderr).toContain('/dev/zero is larger than 16 MiB: not an anchors file')
      const dir = join(env.home, 'a-folder')
      mkdirSync(dir)
      const d = await run('audit', 'verify', '--anchors', dir)
      expect(d.code).toBe(3)
      expect(d.stderr).toContain(`cannot read the anchors file ${dir} (EISDIR)`)
    },
    60_000,
  )

  it.runIf(enabled)(
    'a verdict keeps its code when stdout’s reader stops early: audit verify | head -1 exits 8 on a broken chain',
    async () => {
      // Intact first (control): the early reader changes nothing, exit 0.
      const intact = piped('audit verify', 'head -1')
      expect(intact).toMatchObject({ rc: 0 })
      expect(intact.out).toMatch(/^audit chain intact: /)
      await breakChain()
      const closed = piped('audit verify', 'true')
      expect(closed.rc).toBe(8)
      const first = piped('audit verify', 'head -1')
      expect(first.rc).toBe(8)
      expect(first.out).toMatch(/^audit chain BROKEN at row 1: /)
      const json = piped('audit verify --json', 'head -c 1')
      expect(json.rc).toBe(8)
      // Without a verdict an early reader still ends dsh quietly with 0.
      expect(piped('audit list', 'true').rc).toBe(0)
    },
    60_000,
  )

  async function breakChain(): Promise<void> {
    const statement = `update audit_log set action = 'tenant.remove' where seq = 1`
    if (name === 'sqlite') {
      const db = new Database(env.db)
      db.exec(statement)
      db.close()
      return
    }
    const { default: pg } = await import('pg')
    const c = new pg.Client({ connectionString: env.db })
    await c.connect()
    try {
      await c.query(statement)
    } finally {
      await c.end()
    }
  }
})
