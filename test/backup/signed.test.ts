import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  copyFileSync,
  existsSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { basename, join } from 'node:path'
import Database from 'better-sqlite3'
import { beforeAll, describe, expect, it } from 'vitest'
import { dsh } from '../helpers/cli.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { signManifest } from '../helpers/manifest.js'
import { freshPgDatabase } from '../helpers/pg.js'

/*
 * The second security review's tampered backups (issue 23), each refused by `backup verify` and
 * `restore` with the store untouched, beside an untampered backup of the same store that passes.
 * A "re-signed" backup is one whose manifest the test signs again with the real master key: what
 * an attacker holding the key could do, and what dsh itself signs when the live store was
 * tampered before the backup. The checks behind the MAC (schema objects, WAL, key ids) catch it.
 */

type Manifest = Record<string, unknown> & {
  file: string
  sha256: string
  bytes: number
  masterKeyId: string
  mac?: string
}
interface VerifyOut {
  ok: boolean
  signature: string | null
  code: string | null
  problem: string | null
  needsKeyId: string | null
  checks: { name: string; ok: boolean; detail: string }[]
}

const sign = signManifest
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')
const readManifest = (file: string) => JSON.parse(readFileSync(`${file}.json`, 'utf8')) as Manifest

/** The manifest of `from`, describing `to` as it now is (name, size, SHA-256): MAC left as was. */
function describeAs(from: string, to: string, edit: (m: Manifest) => Manifest = (m) => m): void {
  const m = readManifest(from)
  const bytes = statSync(to).size
  writeFileSync(
    `${to}.json`,
    JSON.stringify(edit({ ...m, file: basename(to), sha256: sha(to), bytes }), null, 2),
  )
}

describe.each(DIALECTS)('signed backups on $name', ({ name, enabled }) => {
  const env = useStoreEnv(name)
  const run = (...args: string[]) => dsh(args, { env: env.env, timeoutMs: 90_000 })
  const sqlite = name === 'sqlite'
  let good: string
  let key: string

  /** What the store holds, to show a refused restore changed nothing. */
  const storeState = async () =>
    [
      sqlite ? sha(env.db) : '',
      (await run('payments', 'list', '--json')).stdout,
      (await run('audit', 'head', '--json')).stdout,
    ].join('\n')

  /** Refused by verify (exit, code, problem) and by restore (same), the store untouched. */
  async function refused(file: string, exit: number, code: string, problem: RegExp) {
    const before = await storeState()
    const v = await run('backup', 'verify', file, '--json')
    expect(v.code, `${file}: ${v.stdout}${v.stderr}`).toBe(exit)
    const report = v.json<VerifyOut>()
    expect(report.ok).toBe(false)
    expect(report.code).toBe(code)
    expect(report.problem).toMatch(problem)
    expect(JSON.parse(v.stderr.trim().split('\n').at(-1)!).error.code).toBe(code)
    const r = await run('restore', file, '--yes')
    expect(r.code, `${file}: ${r.stderr}`).toBe(exit)
    expect(r.stderr).toMatch(problem)
    expect(r.stderr).toContain('nothing was changed')
    expect(await storeState()).toBe(before)
    return report
  }

  beforeAll(async () => {
    if (!enabled) return
    const put = (n: string, v: string) => {
      const p = join(env.home, n)
      writeFileSync(p, v)
      return p
    }
    for (const args of [
      ['init'],
      ['tenant', 'add', 'acme', '--name', 'Acme'],
      ['branch', 'add', 'westlands', '--tenant', 'acme', '--name', 'W', '--currency', 'KES'],
      [
        'gateway',
        'setup',
        'stripe',
        '--branch',
        'westlands',
        '--secret-key-file',
        put('sk', 'sk_test_signed77'),
        '--webhook-secret-file',
        put('wh', 'whsec_signed77'),
      ],
      ['gateway', 'setup', 'cash', '--tenant', 'acme'],
      ['pay', '--branch', 'westlands', '--amount', '250', '--currency', 'KES', '--method', 'cash'],
    ]) {
      const r = await run(...args)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
    }
    key = join(env.home, 'master.key')
    good = join(env.home, `good.${sqlite ? 'db' : 'dump'}`)
    const b = await run('backup', '--to', good, '--json')
    expect(b.code, b.stderr).toBe(0)
  }, 120_000)

  it.runIf(enabled)(
    'an untampered backup is signed, verifies and restores',
    async () => {
      const m = readManifest(good)
      expect(m.mac).toMatch(/^[0-9a-f]{64}$/)
      // The MAC is exactly the documented one: HMAC-SHA256 under HKDF(master key, label).
      expect(sign(m, key).mac).toBe(m.mac)
      const v = await run('backup', 'verify', good, '--json')
      expect(v.code, v.stdout + v.stderr).toBe(0)
      const report = v.json<VerifyOut>()
      expect(report).toMatchObject({ ok: true, signature: 'signed', code: null })
      const names = report.checks.map((c) => c.name)
      expect(names).toEqual(
        sqlite
          ? [
              'manifest',
              'signature',
              'sha256',
              'schema',
              'single file',
              'integrity',
              'schema in file',
              'schema objects',
              'key id',
              'row counts',
              'audit chain',
            ]
          : ['manifest', 'signature', 'sha256', 'schema', 'archive', 'schema objects', 'key id'],
      )
      const r = await run('restore', good, '--yes', '--json')
      expect(r.code, r.stderr).toBe(0)
      expect((await run('audit', 'verify')).code).toBe(0)
      expect((await run('doctor')).code).toBe(0)
    },
    180_000,
  )

  it.runIf(enabled)(
    'edited settings with a recomputed SHA-256 in the manifest: forged, exit 8',
    async () => {
      const edited = join(env.home, `edited.${sqlite ? 'db' : 'dump'}`)
      await editCopy(good, edited, [
        `update gateway_configs set settings = replace(settings, '}', ',"baseUrl":"https://attacker.example"}')`,
        `update settlement_accounts set account_number = '66666666'`,
      ])
      describeAs(good, edited)
      const report = await refused(
        edited,
        8,
        'backup_manifest_forged',
        /the manifest's MAC does not verify under key k[0-9a-f]{8}: the manifest was changed or forged/,
      )
      expect(report.signature).toBe('forged')
    },
    180_000,
  )

  it.runIf(enabled)(
    'a planted trigger or view: forged with a recomputed SHA-256, and named by the object check when re-signed',
    async () => {
      const planted = [
        `create trigger evil after insert on payments begin update settlement_accounts set account_number = '66666666'; end`,
        `create view v_evil as select * from gateway_configs`,
      ]
      const pgPlanted = [
        `create function evil() returns trigger language plpgsql as $$ begin update settlement_accounts set account_number = '66666666'; return null; end $$`,
        `create trigger evil after insert on payments for each statement execute function evil()`,
        `create view v_evil as select * from gateway_configs`,
      ]
      const ext = sqlite ? 'db' : 'dump'
      const shaOnly = join(env.home, `trigger-sha.${ext}`)
      await editCopy(good, shaOnly, sqlite ? planted : pgPlanted)
      describeAs(good, shaOnly)
      await refused(shaOnly, 8, 'backup_manifest_forged', /MAC does not verify/)
      for (const [i, what] of [
        [
          0,
          sqlite
            ? /trigger evil on payments is not made by dsh's migrations/
            : /TRIGGER public\.payments evil is not made/,
        ],
        [
          1,
          sqlite
            ? /view v_evil is not made by dsh's migrations/
            : /VIEW public\.v_evil is not made/,
        ],
      ] as const) {
        const resigned = join(env.home, `planted-${i}.${ext}`)
        const statements = sqlite
          ? [planted[i]!]
          : i === 0
            ? pgPlanted.slice(0, 2)
            : [pgPlanted[2]!]
        await editCopy(good, resigned, statements)
        describeAs(good, resigned, (m) => sign(m, key))
        const report = await refused(resigned, 8, 'backup_invalid', what)
        expect(report.signature).toBe('signed')
        expect(report.checks.find((c) => !c.ok)?.name).toBe('schema objects')
      }
    },
    180_000,
  )

  it.runIf(enabled)(
    'a lying key id: unknown is exit 7 naming the key, another key the store holds is forged, and a signed manifest naming a key the copy is not under is a finding',
    async () => {
      const ext = sqlite ? 'db' : 'dump'
      const unknown = join(env.home, `unknown-key.${ext}`)
      copyFileSync(good, unknown)
      describeAs(good, unknown, (m) => ({ ...m, masterKeyId: 'k00000000' }))
      await refused(
        unknown,
        7,
        'backup_key_unknown',
        /made under key k00000000; restore with the key file that holds it/,
      )
      // A second key, given with --master-key-file: the manifest now names it but was signed
      // under the store's key.
      const other = join(env.home, 'other.key')
      writeFileSync(other, `${Buffer.alloc(32, 7).toString('base64')}\n`)
      const otherId = `k${createHash('sha256').update(Buffer.alloc(32, 7)).digest('hex').slice(0, 8)}`
      const lying = join(env.home, `lying-key.${ext}`)
      copyFileSync(good, lying)
      describeAs(good, lying, (m) => ({ ...m, masterKeyId: otherId }))
      const v = await run('backup', 'verify', lying, '--master-key-file', other, '--json')
      expect(v.code).toBe(8)
      expect(v.json<VerifyOut>().code).toBe('backup_manifest_forged')
      // Signed under that key (what dsh would sign mid-rotation, or a key holder): the copy's
      // secrets are under the store's key, so the manifest lies: a finding, not an exception.
      describeAs(good, lying, (m) => sign({ ...m, masterKeyId: otherId }, other))
      const s = await run('backup', 'verify', lying, '--master-key-file', other, '--json')
      expect(s.code, s.stderr).toBe(8)
      const report = s.json<VerifyOut>()
      expect(report.code).toBe('backup_invalid')
      expect(report.problem).toMatch(
        new RegExp(
          `the copy's secrets are sealed under master key k[0-9a-f]{8}, not ${otherId} as its manifest says`,
        ),
      )
      const before = await storeState()
      const r = await run('restore', lying, '--master-key-file', other, '--yes')
      expect(r.code).toBe(8)
      expect(await storeState()).toBe(before)
    },
    180_000,
  )

  it.runIf(enabled && sqlite)(
    'a WAL-mode copy is refused, signed or not; so is a backup renamed from its manifest',
    async () => {
      const wal = join(env.home, 'wal.db')
      copyFileSync(good, wal)
      const db = new Database(wal)
      db.pragma('journal_mode = WAL')
      db.close()
      expect(readFileSync(wal)[18]).toBe(2)
      describeAs(good, wal)
      await refused(wal, 8, 'backup_manifest_forged', /MAC does not verify/)
      describeAs(good, wal, (m) => sign(m, key))
      const report = await refused(wal, 8, 'backup_invalid', /the file is a WAL-mode database/)
      expect(report.checks.find((c) => !c.ok)?.name).toBe('single file')
      // The manifest's `file` is checked: the same bytes and manifest under another name.
      const renamed = join(env.home, 'renamed.db')
      copyFileSync(good, renamed)
      copyFileSync(`${good}.json`, `${renamed}.json`)
      await refused(
        renamed,
        8,
        'backup_invalid',
        /the manifest describes "good\.db", not renamed\.db/,
      )
    },
    180_000,
  )

  it.runIf(enabled)(
    'an unsigned backup (made before dsh signed them) is `unsigned`, exit 8; restore takes it only with --accept-unsigned, audited',
    async () => {
      const ext = sqlite ? 'db' : 'dump'
      const old = join(env.home, `unsigned.${ext}`)
      copyFileSync(good, old)
      describeAs(good, old, ({ mac: _mac, ...m }) => m as Manifest)
      const v = await run('backup', 'verify', old)
      expect(v.code).toBe(8)
      expect(v.stdout).toMatch(/^backup UNSIGNED: /)
      const report = await refused(old, 8, 'backup_unsigned', /unsigned: the manifest has no MAC/)
      expect(report.signature).toBe('unsigned')
      // Every other check still ran and passed.
      expect(report.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['signature'])
      const r = await run('restore', old, '--accept-unsigned', '--yes', '--json')
      expect(r.code, r.stderr).toBe(0)
      expect(r.json<{ unsigned: boolean }>().unsigned).toBe(true)
      const audit = (await run('audit', 'list', '--action', 'store.restore', '--json')).json<
        { target: string; request: Record<string, unknown> }[]
      >()
      expect(audit.at(-1)!.target).toBe(basename(old))
      expect(JSON.stringify(audit.at(-1))).toContain('"acceptedUnsigned":true')
      // An unsigned backup whose content was changed is still refused with the flag (SQLite:
      // the chain is checked before a restore; PostgreSQL checks it after, with audit verify).
      if (sqlite) {
        const changed = join(env.home, 'unsigned-changed.db')
        await editCopy(good, changed, [`update audit_log set action = 'x' where seq = 1`])
        describeAs(good, changed, ({ mac: _mac, ...m }) => m as Manifest)
        const c = await run('restore', changed, '--accept-unsigned', '--yes')
        expect(c.code).toBe(8)
        expect(c.stderr).toMatch(/broken at row 1: row 1 was changed after it was written/)
      }
    },
    180_000,
  )

  it.runIf(enabled)(
    '`dsh doctor` runs the same object check on the live store',
    async () => {
      const plant = sqlite
        ? [
            `create trigger evil after insert on payments begin update settlement_accounts set account_number = '66666666'; end`,
          ]
        : [
            `create function evil() returns trigger language plpgsql as $$ begin return null; end $$`,
            `create trigger evil after insert on payments for each statement execute function evil()`,
          ]
      await execLive(plant)
      const d = await run('doctor', '--json')
      expect(d.code, d.stderr).toBe(8)
      expect(d.stderr).toMatch(
        sqlite
          ? /trigger evil on payments is not made by dsh's migrations/
          : /is not made by dsh's migrations/,
      )
      expect(d.json<{ schema: { findings: string[] } }>().schema.findings.join('\n')).toMatch(
        sqlite ? /trigger evil on payments/ : /TRIGGER public\.payments evil/,
      )
      // And dsh's own backup of that store, signed by dsh, is still refused.
      const tainted = join(env.home, `tainted.${sqlite ? 'db' : 'dump'}`)
      expect((await run('backup', '--to', tainted)).code).toBe(0)
      await refused(tainted, 8, 'backup_invalid', /evil/)
      await execLive(
        sqlite ? ['drop trigger evil'] : ['drop trigger evil on payments', 'drop function evil()'],
      )
      expect((await run('doctor')).code).toBe(0)
    },
    180_000,
  )

  /** A copy of backup `from` at `to`, with `statements` run in it (SQLite: the file; PG: via a scratch database and pg_dump). */
  async function editCopy(from: string, to: string, statements: string[]): Promise<void> {
    rmSync(to, { force: true })
    if (sqlite) {
      copyFileSync(from, to)
      const db = new Database(to)
      for (const s of statements) db.exec(s)
      db.close()
      return
    }
    const scratch = await freshPgDatabase()
    try {
      const restore = spawnSync('pg_restore', ['--no-owner', `--dbname=${scratch.url}`, from], {
        encoding: 'utf8',
      })
      expect(restore.status, restore.stderr).toBe(0)
      await pgExec(scratch.url, statements)
      const dump = spawnSync(
        'pg_dump',
        ['--format=custom', `--file=${to}`, `--dbname=${scratch.url}`],
        {
          encoding: 'utf8',
        },
      )
      expect(dump.status, dump.stderr).toBe(0)
    } finally {
      await scratch.drop()
    }
  }

  async function execLive(statements: string[]): Promise<void> {
    if (!sqlite) return pgExec(env.db, statements)
    const db = new Database(env.db)
    for (const s of statements) db.exec(s)
    db.close()
  }
})

async function pgExec(url: string, statements: string[]): Promise<void> {
  const { default: pg } = await import('pg')
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    for (const s of statements) await c.query(s)
  } finally {
    await c.end()
  }
}

describe('restore writes the store 0600 whatever the backup’s mode', () => {
  const env = useStoreEnv('sqlite')
  it('a 0644 backup restores a 0600 dsh.db, -wal and -shm', async () => {
    const run = (...args: string[]) => dsh(args, { env: env.env, timeoutMs: 60_000 })
    expect((await run('init')).code).toBe(0)
    expect((await run('tenant', 'add', 'acme', '--name', 'Acme')).code).toBe(0)
    const file = join(env.home, 'open.db')
    expect((await run('backup', '--to', file)).code).toBe(0)
    chmodSync(file, 0o644)
    chmodSync(`${file}.json`, 0o644)
    const r = await run('restore', file, '--yes')
    expect(r.code, r.stderr).toBe(0)
    expect((statSync(env.db).mode & 0o777).toString(8)).toBe('600')
    // -wal and -shm exist while a connection is open (SQLite removes them at the last close) and
    // are made with the store's mode: open it as the daemon would, and look.
    const db = new Database(env.db)
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
      db.prepare('select count(*) from tenants').get()
      for (const ext of ['', '-wal', '-shm']) {
        expect(existsSync(`${env.db}${ext}`), ext).toBe(true)
        expect((statSync(`${env.db}${ext}`).mode & 0o777).toString(8), ext).toBe('600')
      }
    } finally {
      db.close()
    }
  })
})
