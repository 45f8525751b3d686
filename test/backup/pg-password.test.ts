import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dsh } from '../helpers/cli.js'
import { PG_URL, pgAvailable } from '../helpers/pg.js'
import { tempHome } from '../helpers/temp-home.js'

/*
 * A store URL's password reaches pg_dump as PGPASSWORD only (issue 23, item 5). The test server
 * trusts 127.0.0.1 except for members of dsh_password_required (.ci/pg-start.sh adds that one
 * scram-sha-256 line), so a role made here really needs its password: the control below shows a
 * connection without it is refused. A pg_dump shim on the PATH records the arguments dsh gives it
 * and whether PGPASSWORD holds the password, then runs the real pg_dump.
 */

const suffix = randomBytes(4).toString('hex')
const ROLE = `dsh_pw_${suffix}`
const DB = `dsh_pw_${suffix}`
// Characters that need percent-encoding in a URL, so the decoding is exercised too.
const PASSWORD = `Pw!@:/?#&= ${suffix}`

describe.runIf(pgAvailable())('PostgreSQL backup with a password in the store URL', () => {
  let home: string
  let cleanup: () => void
  let shimLog: string
  const server = new URL(PG_URL ?? 'postgres://x@localhost/x')
  const url = (form: 'param' | 'userinfo' | 'none') => {
    const u = new URL(`postgres://${ROLE}@${server.host}/${DB}`)
    if (form === 'param') u.searchParams.set('password', PASSWORD)
    if (form === 'userinfo') u.password = encodeURIComponent(PASSWORD)
    return u.toString()
  }
  const admin = async (text: string) => {
    const { default: pg } = await import('pg')
    const c = new pg.Client({ connectionString: PG_URL })
    await c.connect()
    try {
      await c.query(text)
    } finally {
      await c.end()
    }
  }
  const run = (db: string, ...args: string[]) =>
    dsh(args, {
      env: {
        DSH_HOME: home,
        DSH_DB: db,
        PATH: `${join(home, 'shim')}:${process.env['PATH']}`,
        SHIM_LOG: shimLog,
        SHIM_EXPECT: PASSWORD,
      },
      timeoutMs: 90_000,
    })

  beforeAll(async () => {
    ;({ home, cleanup } = tempHome())
    shimLog = join(home, 'shim.log')
    const real = spawnSync('bash', ['-c', 'command -v pg_dump'], { encoding: 'utf8' }).stdout.trim()
    mkdirSync(join(home, 'shim'))
    const shim = join(home, 'shim', 'pg_dump')
    writeFileSync(
      shim,
      `#!/usr/bin/env bash
for a in "$@"; do printf 'arg %s\\n' "$a" >> "$SHIM_LOG"; done
if [ "$PGPASSWORD" = "$SHIM_EXPECT" ]; then echo "PGPASSWORD is the password" >> "$SHIM_LOG"; else echo "PGPASSWORD is not the password" >> "$SHIM_LOG"; fi
exec "${real}" "$@"
`,
    )
    chmodSync(shim, 0o755)
    const literal = PASSWORD.replaceAll("'", "''")
    // CREATEDB: backup verify migrates a scratch database to compare the schema with.
    await admin(
      `create role ${ROLE} login createdb password '${literal}' in role dsh_password_required`,
    )
    await admin(`create database ${DB} owner ${ROLE}`)
  }, 60_000)

  afterAll(async () => {
    await admin(`drop database if exists ${DB} with (force)`).catch(() => {})
    await admin(`drop role if exists ${ROLE}`).catch(() => {})
    await admin(`drop database if exists ${DB}_nc with (force)`).catch(() => {})
    await admin(`drop role if exists ${ROLE}_nc`).catch(() => {})
    cleanup?.()
  })

  it('the server demands the password (control): without it the connection is refused', async () => {
    const { default: pg } = await import('pg')
    const c = new pg.Client({ connectionString: url('none'), password: '' })
    await expect(c.connect()).rejects.toThrow(/password/)
    await c.end().catch(() => {})
  })

  it('?password= and user-info both reach pg_dump as PGPASSWORD, never on its command line or in output', async () => {
    const init = await run(url('param'), 'init')
    expect(init.code, init.stderr).toBe(0)
    expect((await run(url('param'), 'tenant', 'add', 'acme', '--name', 'Acme')).code).toBe(0)
    for (const form of ['param', 'userinfo'] as const) {
      writeFileSync(shimLog, '')
      const b = await run(url(form), 'backup', '--json')
      expect(b.code, `${form}: ${b.stderr}`).toBe(0)
      const out = b.json<{ file: string; manifestFile: string }>()
      const log = readFileSync(shimLog, 'utf8')
      expect(log).toContain('PGPASSWORD is the password')
      expect(log).not.toContain('PGPASSWORD is not the password')
      expect(log).toMatch(
        /^arg --dbname=postgres:\/\/dsh_pw_[0-9a-f]{8}@127\.0\.0\.1:\d+\/dsh_pw_/m,
      )
      for (const text of [log, b.stdout, b.stderr, readFileSync(out.manifestFile, 'utf8')]) {
        expect(text).not.toContain(PASSWORD)
        expect(text).not.toContain(encodeURIComponent(PASSWORD))
      }
      expect(existsSync(out.file)).toBe(true)
      // The backup verifies through the same URL (its schema check dumps a scratch database).
      const v = await run(url(form), 'backup', 'verify', out.file)
      expect(v.code, v.stdout + v.stderr).toBe(0)
    }
  })

  it('doctor on a role that may not CREATE DATABASE: the other checks run, and it exits 7 naming the unchecked schema', async () => {
    await admin(`create role ${ROLE}_nc login`)
    await admin(`create database ${DB}_nc owner ${ROLE}_nc`)
    const db = `postgres://${ROLE}_nc@${server.host}/${DB}_nc`
    const ncHome = join(home, 'nc')
    const nc = (...args: string[]) =>
      dsh(args, { env: { DSH_HOME: ncHome, DSH_DB: db }, timeoutMs: 60_000 })
    expect((await nc('init')).code).toBe(0)
    const d = await nc('doctor', '--json')
    expect(d.code, d.stderr).toBe(7)
    const out = d.json<{ ok: boolean; schema: { checked: boolean }; counters: { ok: boolean } }>()
    expect(out).toMatchObject({ ok: false, schema: { checked: false }, counters: { ok: true } })
    expect(d.stderr).toContain(
      'schema objects not checked: checking the schema needs a scratch database, and CREATE DATABASE was refused',
    )
    expect(JSON.parse(d.stderr.trim().split('\n').at(-1)!).error.code).toBe(
      'schema_check_needs_createdb',
    )
  })
})
