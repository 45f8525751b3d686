import { createHash } from 'node:crypto'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { basename, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { dsh } from '../helpers/cli.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { signManifest } from '../helpers/manifest.js'

interface Manifest {
  format: string
  dialect: string
  file: string
  sha256: string
  bytes: number
  schema: { latest: string; migrations: number }
  rowCounts: Record<string, number>
  auditHead: { seq: number; hash: string }
  masterKeyId: string
  mac?: string
}
interface BackupOut {
  file: string
  manifestFile: string
  manifest: Manifest
  masterKey: string
}
interface VerifyOut {
  ok: boolean
  problem: string | null
  checks: { name: string; ok: boolean; detail: string }[]
  needsKeyId: string | null
}

const SECRETS = ['sk_test_backupSecret77', 'whsec_backupWebhook77']
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')

describe.each(DIALECTS)('backups and restore on $name', ({ name, enabled }) => {
  const env = useStoreEnv(name)
  const run = (...args: string[]) => dsh(args, { env: env.env, timeoutMs: 60_000 })
  const ext = name === 'sqlite' ? 'db' : 'dump'
  let first: BackupOut

  it.runIf(enabled)(
    'a backup is a consistent, checked copy with a manifest, and never holds the key or a secret',
    async () => {
      const put = (n: string, v: string) => {
        const p = join(env.home, n)
        writeFileSync(p, v)
        return p
      }
      for (const args of [
        ['init'],
        ['tenant', 'add', 'acme', '--name', 'Acme'],
        ['branch', 'add', 'westlands', '--tenant', 'acme', '--name', 'W', '--currency', 'KES'],
        ['gateway', 'setup', 'cash', '--tenant', 'acme'],
        [
          'gateway',
          'setup',
          'stripe',
          '--branch',
          'westlands',
          '--secret-key-file',
          put('sk', SECRETS[0]!),
          '--webhook-secret-file',
          put('wh', SECRETS[1]!),
        ],
        [
          'pay',
          '--branch',
          'westlands',
          '--amount',
          '250',
          '--currency',
          'KES',
          '--method',
          'cash',
        ],
      ]) {
        const r = await run(...args)
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      }
      const r = await run('backup', '--json')
      expect(r.code, r.stderr).toBe(0)
      first = r.json<BackupOut>()
      expect(first.file).toMatch(
        new RegExp(`/backups/dsh-\\d{8}T\\d{9}Z\\.${ext}$`.replaceAll('/', '\\/')),
      )
      const m = first.manifest
      expect(m).toMatchObject({ format: 'dsh-backup/1', dialect: name })
      expect(m.sha256).toBe(sha(first.file))
      expect(m.bytes).toBe(statSync(first.file).size)
      expect(m.rowCounts['payments']).toBe(1)
      expect(m.rowCounts['gateway_configs']).toBe(2)
      expect(m.auditHead.seq).toBeGreaterThan(0)
      expect(m.masterKeyId).toMatch(/^k[0-9a-f]{8}$/)
      expect(JSON.parse(readFileSync(first.manifestFile, 'utf8'))).toEqual(m)
      // The head recorded is the chain's head at the copy: the live head says the same.
      const head = (await run('audit', 'head', '--json')).json<{ seq: number; hash: string }>()
      expect({ seq: head.seq, hash: head.hash }).toEqual(m.auditHead)
      expect(statSync(first.file).mode & 0o777).toBe(0o600)
      expect(statSync(first.manifestFile).mode & 0o777).toBe(0o600)
      expect(r.stderr).toContain(join(env.home, 'master.key'))
      // Neither the key nor a plain secret is in the manifest, the output or (SQLite) the copy.
      const key = readFileSync(join(env.home, 'master.key'), 'utf8').trim()
      const texts = [readFileSync(first.manifestFile, 'utf8'), r.stdout, r.stderr]
      if (name === 'sqlite') texts.push(readFileSync(first.file, 'latin1'))
      for (const t of texts) for (const s of [key, ...SECRETS]) expect(t).not.toContain(s)

      const v = await run('backup', 'verify', first.file, '--json')
      expect(v.code, v.stdout + v.stderr).toBe(0)
      const report = v.json<VerifyOut>()
      expect(report.ok).toBe(true)
      expect(report.checks.every((c) => c.ok)).toBe(true)
      if (name === 'sqlite')
        expect(report.checks.map((c) => c.name)).toEqual([
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
        ])
      if (name === 'postgres') {
        // A password in the store URL reaches pg_dump through PGPASSWORD only: never the output,
        // the manifest or an error (the test server trusts local connections, so any password works).
        const url = new URL(env.db)
        url.password = 'S3cretPgPassw0rd'
        const withPw = await dsh(['backup', '--json'], {
          env: { ...env.env, DSH_DB: url.toString() },
          timeoutMs: 60_000,
        })
        expect(withPw.code, withPw.stderr).toBe(0)
        const out = withPw.json<BackupOut>()
        for (const t of [withPw.stdout, withPw.stderr, readFileSync(out.manifestFile, 'utf8')])
          expect(t).not.toContain('S3cretPgPassw0rd')
        const bad = new URL(env.db)
        bad.password = 'S3cretPgPassw0rd'
        bad.pathname = '/no_such_database_here'
        const failed = await dsh(['backup'], {
          env: { ...env.env, DSH_DB: bad.toString() },
          timeoutMs: 60_000,
        })
        expect(failed.code).toBe(7)
        expect(failed.stdout + failed.stderr).not.toContain('S3cretPgPassw0rd')
      }
      // An existing target is never overwritten.
      const again = await run('backup', '--to', first.file)
      expect(again.code).toBe(5)
    },
  )

  it.runIf(enabled)(
    'restore puts the backup back, keeps what was there, and audits itself',
    async () => {
      const later = await run(
        'pay',
        '--branch',
        'westlands',
        '--amount',
        '999',
        '--currency',
        'KES',
        '--method',
        'cash',
      )
      expect(later.code, later.stderr).toBe(0)
      expect((await run('payments', 'list', '--json')).json<unknown[]>()).toHaveLength(2)
      const noYes = await run('restore', first.file)
      expect(noYes.code, noYes.stderr).toBe(2)
      const r = await run('restore', first.file, '--yes', '--json')
      expect(r.code, r.stderr).toBe(0)
      const out = r.json<{ movedAside: string | null; reencrypted: number }>()
      expect(out.reencrypted).toBe(0)
      const payments = (await run('payments', 'list', '--json')).json<{ amount: string }[]>()
      expect(payments.map((p) => p.amount)).toEqual(['250.00'])
      if (name === 'sqlite') {
        expect(out.movedAside).toMatch(/dsh\.db\.pre-restore-\d{8}T\d{6}Z$/)
        expect(existsSync(out.movedAside!)).toBe(true)
      }
      const verify = await run('audit', 'verify', '--json')
      expect(verify.code, verify.stdout).toBe(0)
      const restoreRow = (await run('audit', 'list', '--action', 'store.restore', '--json')).json<
        { target: string }[]
      >()
      expect(restoreRow).toHaveLength(1)
      expect(restoreRow[0]!.target).toBe(first.manifest.file)
      // The stripe secret still opens: the configuration is usable after the restore.
      const show = await run('gateway', 'show', 'stripe', '--branch', 'westlands', '--json')
      expect(show.code, show.stderr).toBe(0)
      expect(show.stdout).not.toContain(SECRETS[0])
    },
  )

  it.runIf(enabled)(
    'a truncated, bit-flipped or foreign-schema backup is refused and the store is unchanged',
    async () => {
      // Each in a folder of its own, under the name the manifest gives (the name is checked too).
      const bad = (suffix: string) => {
        const dir = join(env.home, `bad-${suffix}`)
        mkdirSync(dir)
        const f = join(dir, basename(first.file))
        copyFileSync(first.file, f)
        copyFileSync(first.manifestFile, `${f}.json`)
        return f
      }
      const truncated = bad('truncated')
      truncateSync(truncated, Math.floor(statSync(truncated).size / 2))
      const flipped = bad('flipped')
      const bytes = readFileSync(flipped)
      bytes[Math.floor(bytes.length / 2)]! ^= 0x01
      writeFileSync(flipped, bytes)
      // A manifest claiming a newer schema: forged as edited, "newer dsh" when signed by a key holder.
      const edited = bad('edited')
      const m = JSON.parse(readFileSync(`${edited}.json`, 'utf8')) as Manifest
      const future = { ...m, schema: { latest: '2099_01_01_0099_future', migrations: 99 } }
      writeFileSync(`${edited}.json`, JSON.stringify(future))
      const foreign = bad('foreign')
      writeFileSync(
        `${foreign}.json`,
        JSON.stringify(signManifest(future, join(env.home, 'master.key'))),
      )
      const cases: [string, RegExp][] = [
        [truncated, /file changed since the backup was taken/],
        [flipped, /file changed since the backup was taken/],
        [edited, /MAC does not verify/],
        [foreign, /from a newer dsh/],
      ]
      const before = name === 'sqlite' ? sha(env.db) : ''
      const paymentsBefore = (await run('payments', 'list', '--json')).stdout
      for (const [file, why] of cases) {
        const v = await run('backup', 'verify', file, '--json')
        expect(v.code, file).toBe(8)
        expect(v.json<VerifyOut>().problem).toMatch(why)
        const r = await run('restore', file, '--yes')
        expect(r.code, r.stderr).toBe(8)
        expect(r.stderr).toMatch(why)
        expect(r.stderr).toContain('nothing was changed')
      }
      if (name === 'sqlite') expect(sha(env.db)).toBe(before)
      expect((await run('payments', 'list', '--json')).stdout).toBe(paymentsBefore)
    },
  )

  it.runIf(enabled)(
    'a backup from before `keys rotate` needs its old key, and comes back under the new one',
    async () => {
      const oldKey = join(env.home, 'old-master.key')
      copyFileSync(join(env.home, 'master.key'), oldKey)
      const rotated = await run('keys', 'rotate')
      expect(rotated.code, rotated.stderr).toBe(0)
      // The retired key's MAC key was kept (0600, beside master.key): the manifest still verifies,
      // and the key itself is what is missing (exit 7, naming it).
      const macKeys = join(env.home, 'backup-mac.keys')
      expect(statSync(macKeys).mode & 0o777).toBe(0o600)
      expect(readFileSync(macKeys, 'utf8')).toMatch(
        new RegExp(`^${first.manifest.masterKeyId} [A-Za-z0-9+/]{43}=\\n$`),
      )
      const v = await run('backup', 'verify', first.file, '--json')
      expect(v.code).toBe(7)
      const needs = v.json<VerifyOut & { signature: string; code: string }>()
      expect(needs).toMatchObject({ signature: 'signed', code: 'master_key_needed' })
      expect(needs.needsKeyId).toBe(first.manifest.masterKeyId)
      expect(needs.checks.find((c) => c.name === 'signature')?.detail).toContain(
        'retired by `dsh keys rotate`',
      )
      // A forged manifest of that old backup is told from a genuine one.
      const dir = join(env.home, 'old-forged')
      mkdirSync(dir)
      const forged = join(dir, basename(first.file))
      copyFileSync(first.file, forged)
      writeFileSync(
        `${forged}.json`,
        JSON.stringify({ ...first.manifest, createdAt: '2026-01-01T00:00:00.000Z' }),
      )
      const f = await run('backup', 'verify', forged, '--json')
      expect(f.code).toBe(8)
      expect(f.json<{ code: string }>().code).toBe('backup_manifest_forged')
      // Without the kept MAC key the backup's key is unknown: exit 7 with the key to find.
      const kept = readFileSync(macKeys)
      rmSync(macKeys)
      const unknown = await run('backup', 'verify', first.file, '--json')
      expect(unknown.code).toBe(7)
      expect(unknown.json<{ problem: string }>().problem).toBe(
        `made under key ${first.manifest.masterKeyId}; restore with the key file that holds it (--master-key-file)`,
      )
      writeFileSync(macKeys, kept, { mode: 0o600 })
      const refused = await run('restore', first.file, '--yes')
      expect(refused.code).toBe(7)
      expect(refused.stderr).toContain(first.manifest.masterKeyId)
      const ok = await run('backup', 'verify', first.file, '--master-key-file', oldKey)
      expect(ok.code, ok.stdout).toBe(0)
      const r = await run('restore', first.file, '--master-key-file', oldKey, '--yes', '--json')
      expect(r.code, r.stderr).toBe(0)
      // Two Stripe secrets and the audit key, now under the current key.
      expect(r.json<{ reencrypted: number }>().reencrypted).toBe(3)
      const show = await run('gateway', 'show', 'stripe', '--branch', 'westlands', '--json')
      expect(show.code, show.stderr).toBe(0)
      expect((await run('audit', 'verify')).code).toBe(0)
      // The old key alone opens nothing any more: a new backup names the current key.
      const next = (await run('backup', '--json')).json<BackupOut>()
      expect(next.manifest.masterKeyId).not.toBe(first.manifest.masterKeyId)
    },
  )
})
