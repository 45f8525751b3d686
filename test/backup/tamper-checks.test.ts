import { createHash } from 'node:crypto'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import SQLite from 'better-sqlite3'
import { beforeAll, describe, expect, it } from 'vitest'
import { dsh } from '../helpers/cli.js'
import { useStoreEnv } from '../helpers/dialects.js'
import { signManifest } from '../helpers/manifest.js'

/*
 * Issue 24, Deliver 2: `backup verify` (and so `restore`) refuses an edited SQLite backup by
 * its own checks, not only by the file's SHA-256. Each copy below is edited the way a forger
 * would, then its manifest's `sha256` and `bytes` are recomputed (and, for the audit row, its
 * row counts), so the SHA-256 check passes and only the check under test can catch it:
 * - a forged payment row inserted: the row-count check;
 * - a corrupted index page: SQLite's integrity check;
 * - a deleted audit row (counts recomputed): the audit-chain check.
 * Each asserts that check's own finding, so the tests keep proving these checks once the manifest
 * is signed (issue 23): `forgeManifest` re-signs it with the real master key.
 *
 * SQLite only: a PostgreSQL backup is a pg_dump archive, for which verify reads the archive
 * (pg_restore --list) and does not run these three checks.
 */

interface Manifest {
  mac?: string
  sha256: string
  bytes: number
  rowCounts: Record<string, number>
  auditHead: { seq: number; hash: string }
}
interface VerifyOut {
  ok: boolean
  problem: string | null
  checks: { name: string; ok: boolean; detail: string }[]
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')

/** The manifest a forger writes for an edited copy: what verify's SHA-256 check compares. */
function forgeManifest(
  original: string,
  copy: string,
  masterKey: string,
  over: Partial<Manifest> = {},
): void {
  const m = JSON.parse(readFileSync(`${original}.json`, 'utf8')) as Manifest
  const bytes = readFileSync(copy)
  // Named for the copy and re-signed with the real master key (what a key holder could do), so
  // the MAC and name checks pass and only the check under test can catch the edit.
  const forged = signManifest(
    {
      ...m,
      ...over,
      file: basename(copy),
      sha256: createHash('sha256').update(bytes).digest('hex'),
      bytes: bytes.length,
    },
    masterKey,
  )
  writeFileSync(`${copy}.json`, `${JSON.stringify(forged, null, 2)}\n`)
}

/** Edits a copy of the backup with SQL (a plain connection: no dsh code runs on it). */
function editCopy(file: string, edit: (db: SQLite.Database) => void): void {
  const db = new SQLite(file)
  try {
    edit(db)
  } finally {
    db.close()
  }
}

/** Every table's row count, as a forger who recomputes the manifest would count them. */
function countRows(file: string): Record<string, number> {
  const db = new SQLite(file, { readonly: true })
  try {
    const tables = db
      .prepare(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name",
      )
      .pluck()
      .all() as string[]
    return Object.fromEntries(
      tables.map((t) => [t, Number(db.prepare(`select count(*) from "${t}"`).pluck().get())]),
    )
  } finally {
    db.close()
  }
}

const CHECKS = [
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

describe('backup verify: the integrity, row-count and audit-chain checks on an edited copy (sqlite)', () => {
  const env = useStoreEnv('sqlite')
  const run = (...args: string[]) => dsh(args, { env: env.env, timeoutMs: 60_000 })
  let backup: string
  let manifest: Manifest
  const masterKey = () => join(env.home, 'master.key')

  beforeAll(async () => {
    for (const args of [
      ['init'],
      ['tenant', 'add', 'acme', '--name', 'Acme'],
      ['branch', 'add', 'westlands', '--tenant', 'acme', '--name', 'W', '--currency', 'KES'],
      ['gateway', 'setup', 'cash', '--tenant', 'acme'],
      ...['250', '300', '350'].map((amount, i) => [
        'pay',
        '--branch',
        'westlands',
        '--amount',
        amount,
        '--method',
        'cash',
        '--order',
        `TAMPER-${i}`,
      ]),
    ]) {
      const r = await run(...args)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
    }
    const r = await run('backup', '--json')
    expect(r.code, r.stderr).toBe(0)
    backup = r.json<{ file: string }>().file
    manifest = JSON.parse(readFileSync(`${backup}.json`, 'utf8')) as Manifest
    expect(manifest.rowCounts['payments']).toBe(3)
    expect(manifest.auditHead.seq).toBeGreaterThan(4)
  }, 120_000)

  it('a forged payment row, a corrupted index page and a deleted audit row are each refused by their own check; the store is untouched', async () => {
    const copy = (suffix: string) => {
      const f = backup.replace(/\.db$/, `.${suffix}.db`)
      copyFileSync(backup, f)
      return f
    }

    // A payment that never happened, inserted beside the real ones (every index kept right).
    const forged = copy('forged-payment')
    editCopy(forged, (db) => {
      db.exec(`create temp table p as select * from payments where order_id = 'TAMPER-0';
        update p set id = 'pay_forged0000000000000000', order_id = 'FORGED-1',
          idempotency_key = null, amount_minor = 5000000;
        insert into payments select * from p;`)
    })
    forgeManifest(backup, forged, masterKey())

    // One byte of an index entry changed: the index no longer agrees with its table.
    const corrupted = copy('corrupted-page')
    const { page, pageSize, key } = (() => {
      const db = new SQLite(corrupted, { readonly: true })
      try {
        return {
          page: Number(
            db
              .prepare(
                "select rootpage from sqlite_master where name = 'payments_branch_created_idx'",
              )
              .pluck()
              .get(),
          ),
          pageSize: Number(db.pragma('page_size', { simple: true })),
          key: String(
            db.prepare("select created_at from payments where order_id = 'TAMPER-1'").pluck().get(),
          ),
        }
      } finally {
        db.close()
      }
    })()
    const bytes = readFileSync(corrupted)
    const start = (page - 1) * pageSize
    const at = bytes.subarray(start, start + pageSize).indexOf(Buffer.from(key, 'latin1'))
    expect(at, `created_at ${key} in the index page ${page}`).toBeGreaterThan(0)
    // The last character of the timestamp (a digit or 'Z') becomes another.
    const pos = start + at + key.length - 1
    bytes[pos] = bytes[pos] === 0x30 ? 0x31 : 0x30
    writeFileSync(corrupted, bytes)
    forgeManifest(backup, corrupted, masterKey())

    // A row from the middle of the audit chain deleted, the row counts recomputed to match.
    const gap = copy('audit-gap')
    const deleted = 3
    editCopy(gap, (db) => {
      expect(db.prepare('delete from audit_log where seq = ?').run(deleted).changes).toBe(1)
    })
    forgeManifest(backup, gap, masterKey(), { rowCounts: countRows(gap) })
    expect(countRows(gap)['audit_log']).toBe(manifest.rowCounts['audit_log']! - 1)

    const cases: { file: string; failed: string; problem: RegExp | string; after: string[] }[] = [
      {
        file: forged,
        failed: 'row counts',
        problem: 'row counts differ from the manifest in payments',
        // The chain is intact (no audit row was touched): only the count saw the forged row.
        after: ['audit chain'],
      },
      {
        file: corrupted,
        failed: 'integrity',
        problem: /^integrity_check: .*payments_branch_created_idx/,
        after: [],
      },
      {
        file: gap,
        failed: 'audit chain',
        problem: `broken at row ${deleted}: row ${deleted} is missing`,
        after: [],
      },
    ]
    const paymentsBefore = (await run('payments', 'list', '--json')).stdout
    const storeBefore = sha(env.db)
    for (const c of cases) {
      const v = await run('backup', 'verify', c.file, '--json')
      expect(v.code, `${c.file}: ${v.stdout}${v.stderr}`).toBe(8)
      const report = v.json<VerifyOut>()
      // Every check before the failing one passed (the SHA-256 among them), the failing one
      // failed, and the checks after it ran (or not) as expected.
      const upTo = CHECKS.indexOf(c.failed)
      expect(
        report.checks.map((x) => [x.name, x.ok]),
        c.file,
      ).toEqual([
        ...CHECKS.slice(0, upTo).map((n) => [n, true]),
        [c.failed, false],
        ...c.after.map((n) => [n, true]),
      ])
      expect(report.ok).toBe(false)
      expect(report.problem, c.file).toMatch(c.problem)
      expect(report.checks.find((x) => x.name === c.failed)?.detail).toBe(report.problem)

      const r = await run('restore', c.file, '--yes')
      expect(r.code, `${c.file}: ${r.stderr}`).toBe(8)
      expect(r.stderr).toContain(`not restoring ${c.file}: ${report.problem}`)
      expect(r.stderr).toContain('nothing was changed')
    }
    expect(sha(env.db)).toBe(storeBefore)
    expect((await run('payments', 'list', '--json')).stdout).toBe(paymentsBefore)
    expect((await run('audit', 'verify')).code).toBe(0)

    // Control: the untouched backup passes every check.
    const clean = await run('backup', 'verify', backup, '--json')
    expect(clean.code, clean.stdout).toBe(0)
    expect(clean.json<VerifyOut>().checks.map((x) => x.name)).toEqual(CHECKS)
  }, 120_000)
})
