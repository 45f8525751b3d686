import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dsh } from '../helpers/cli.js'
import { tempHome } from '../helpers/temp-home.js'

/** Issue 10, item 8: the smaller findings, each through a real `dsh` process. */
let home: string
let cleanup: () => void
const run = (...args: string[]) => dsh(args, { env: { DSH_HOME: home } })
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex')

beforeAll(async () => {
  ;({ home, cleanup } = tempHome())
  for (const args of [
    ['init'],
    ['tenant', 'add', 'acme', '--name', 'Acme'],
    ['branch', 'add', 'w', '--tenant', 'acme', '--name', 'W', '--currency', 'KES'],
    ['gateway', 'setup', 'cash', '--tenant', 'acme'],
  ]) {
    const r = await run(...args)
    expect(r.code, r.stderr).toBe(0)
  }
})

afterAll(() => cleanup())

describe('stores', () => {
  it('a read-only store is exit 7 naming it, not an internal error', async () => {
    const { home: h, cleanup: done } = tempHome()
    const env = { DSH_HOME: h }
    try {
      expect((await dsh(['init'], { env })).code).toBe(0)
      const db = join(h, 'dsh.db')
      // Root ignores file modes: make the file immutable instead where that is possible.
      const immutable = process.getuid?.() === 0 && spawnSync('chattr', ['+i', db]).status === 0
      if (!immutable) {
        chmodSync(db, 0o444)
        chmodSync(h, 0o555)
      }
      try {
        const r = await dsh(['tenant', 'add', 'acme', '--name', 'Acme'], { env })
        expect(r.code, r.stderr).toBe(7)
        expect(r.stderr).toContain(`the store at ${db} is read-only: nothing was changed`)
      } finally {
        if (immutable) spawnSync('chattr', ['-i', db])
        else chmodSync(h, 0o700)
      }
    } finally {
      done()
    }
  })

  it('dsh init on a store in use whose master.key is missing writes nothing (exit 7)', async () => {
    const { home: h, cleanup: done } = tempHome()
    const env = { DSH_HOME: h }
    try {
      expect((await dsh(['init'], { env })).code).toBe(0)
      const key = readFileSync(join(h, 'master.key'), 'utf8')
      rmSync(join(h, 'master.key'))
      const before = sha(join(h, 'dsh.db'))
      const r = await dsh(['init'], { env })
      expect(r.code, r.stderr).toBe(7)
      expect(r.stderr).toContain(
        `its master key ${join(h, 'master.key')} is missing: nothing was written`,
      )
      expect(r.stderr).toMatch(/restore master\.key \(key id k[0-9a-f]{8}\) from your backup/)
      expect(existsSync(join(h, 'master.key'))).toBe(false)
      expect(sha(join(h, 'dsh.db'))).toBe(before)
      // Restored, all is well again.
      writeFileSync(join(h, 'master.key'), key, { mode: 0o600 })
      expect((await dsh(['init'], { env })).code).toBe(0)
    } finally {
      done()
    }
  })

  it('--db at a SQLite file that is not a dsh store: exit 7, the file untouched (no WAL)', async () => {
    const file = join(home, 'other.db')
    const other = new Database(file)
    other.exec('create table recipes (id integer primary key, name text)')
    other.close()
    const before = sha(file)
    for (const args of [['tenant', 'list'], ['init'], ['migrate']]) {
      const r = await run(...args, '--db', file)
      expect(r.code, `${args}: ${r.stderr}`).toBe(7)
      expect(r.stderr).toContain(`${file} is a SQLite database but not a dsh store`)
    }
    expect(sha(file)).toBe(before)
    expect(existsSync(`${file}-wal`)).toBe(false)
    const again = new Database(file, { readonly: true })
    expect(again.pragma('journal_mode', { simple: true })).toBe('delete')
    again.close()
  })
})

describe('output and input limits', () => {
  it('a huge input makes a short, whole --json error on a pipe (exit 3, flushed)', async () => {
    const huge = `${'9'.repeat(100_000)}x`
    const r = await run(
      'pay',
      '--branch',
      'w',
      '--method',
      'cash',
      '--currency',
      'KES',
      '--amount',
      huge,
      '--json',
    )
    expect(r.code).toBe(3)
    const err = JSON.parse(r.stderr) as { error: { message: string } }
    expect(err.error.message.length).toBeLessThan(400)
    expect(err.error.message).toMatch(/^"9{60}…" is not an amount$/)
    // Any echo: an unknown flag of 100,000 characters is cut to 200 and its length.
    const flag = `--${'x'.repeat(100_000)}`
    const u = await run('tenant', 'list', flag, '--json')
    expect(u.code).toBe(2)
    const usage = JSON.parse(u.stderr) as { error: { message: string } }
    expect(usage.error.message).toContain(`${flag.slice(0, 200)}… (100002 characters)`)
    expect(usage.error.message.length).toBeLessThan(400)
  })

  it('a secret file over 64 KiB (or /dev/zero) is refused at once', async () => {
    const big = join(home, 'big-secret')
    writeFileSync(big, 'a'.repeat(64 * 1024 + 1))
    for (const file of [big, '/dev/zero']) {
      const started = Date.now()
      const r = await run(
        'gateway',
        'setup',
        'stripe',
        '--branch',
        'w',
        '--secret-key-file',
        file,
        '--webhook-secret-file',
        file,
      )
      expect(r.code, r.stderr).toBe(3)
      expect(r.stderr).toContain(`--secret-key-file ${file} is larger than 64 KiB`)
      expect(Date.now() - started).toBeLessThan(10_000)
    }
    writeFileSync(big, 'a'.repeat(64 * 1024))
    const ok = await run('route', 'set', '--branch', 'w', '--file', '/dev/zero')
    expect(ok.code).toBe(3)
    expect(ok.stderr).toContain('larger than 64 KiB')
  })
})

describe('flags', () => {
  it('--since must be a real date; an empty one is not ignored (exit 3)', async () => {
    for (const since of ['2026-02-30', '', '2026-13-01', '2026-11-01T25:00:00Z']) {
      for (const cmd of [
        ['audit', 'list'],
        ['payments', 'list'],
      ]) {
        const r = await run(...cmd, '--since', since)
        expect(r.code, `${cmd} --since "${since}": ${r.stderr}`).toBe(3)
        expect(r.stderr).toContain(`--since "${since}" is not a date`)
      }
    }
    expect((await run('audit', 'list', '--since', '2024-02-29')).code).toBe(0)
  })

  it('--tips with --no-tips is a usage error (exit 2)', async () => {
    const r = await run('branch', 'set', 'w', '--tips', '--no-tips')
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('give --tips or --no-tips, not both')
    const add = await run(
      'branch',
      'add',
      'x',
      '--tenant',
      'acme',
      '--name',
      'X',
      '--currency',
      'KES',
      '--no-tips',
      '--tips',
    )
    expect(add.code).toBe(2)
    expect((await run('branch', 'show', 'x')).code).toBe(4)
  })

  it('a till account given --paybill-number is a usage error, not a silent drop (exit 2)', async () => {
    const put = (n: string, v: string) => {
      const p = join(home, n)
      writeFileSync(p, v)
      return p
    }
    const r = await run(
      'gateway',
      'setup',
      'mpesa',
      '--branch',
      'w',
      '--account-type',
      'till',
      '--shortcode',
      '174379',
      '--till-number',
      '123456',
      '--paybill-number',
      '174379',
      '--passkey-file',
      put('pk', 'pk1'),
      '--consumer-key-file',
      put('ck', 'ck1'),
      '--consumer-secret-file',
      put('cs', 'cs1'),
    )
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain('--paybill-number does not apply when --account-type is till')
    expect((await run('gateway', 'show', 'mpesa', '--branch', 'w')).code).toBe(4)
  })

  it('a rules file with unknown keys or a numeric minAmount is exit 3 naming them', async () => {
    const file = join(home, 'rules.json')
    writeFileSync(
      file,
      JSON.stringify({
        rules: [{ when: { minAmount: 5000 }, gateways: ['cash'], gatway: ['cash'] }],
        fallback: ['cash'],
        falback: ['cash'],
      }),
    )
    const r = await run('route', 'set', '--branch', 'w', '--file', file)
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('"falback" is not a known key (rules, fallback)')
    expect(r.stderr).toContain('rules[0].gatway is not a known key (name, when, gateways)')
    expect(r.stderr).toContain('rules[0].when.minAmount must be an amount such as "10000"')
  })

  it('pay --method bitcoin is exit 3 like the other bad choices', async () => {
    const r = await run(
      'pay',
      '--branch',
      'w',
      '--amount',
      '10',
      '--currency',
      'KES',
      '--method',
      'bitcoin',
    )
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('--method must be one of mpesa, card, cash')
  })
})
