import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { MIGRATIONS } from '../../migrations/index.js'
import { verifyAuditOf } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { isDshError, notFound } from '../core/errors.js'
import { openSqliteCopy } from '../store/connect.js'
import { decryptSecret } from '../vault/crypto.js'
import { type KeyRing, type MasterKey, readKeyFile } from '../vault/master-key.js'
import { keyRing } from '../vault/vault.js'
import { appliedMigrations, integrityCheck, rowCounts } from './backup-store.js'
import { type BackupManifest, readManifest, sha256File } from './manifest.js'
import { pgList } from './pg.js'

export interface BackupCheck {
  name: string
  ok: boolean
  detail: string
}

export interface BackupReport {
  ok: boolean
  file: string
  manifest: BackupManifest | null
  checks: BackupCheck[]
  /** The first check that failed, in words. */
  problem: string | null
  /** Set when the only thing missing is the master key the backup was taken under. */
  needsKeyId: string | null
}

/** The ring that opens a backup: this store's keys plus an older key given for it. */
export function ringFor(ctx: Ctx, masterKeyFile?: string): KeyRing {
  const ring = keyRing(ctx)
  if (!masterKeyFile) return ring
  const extra: MasterKey | null = readKeyFile(resolve(masterKeyFile))
  if (!extra) throw notFound('master_key_file_missing', `no master key file at ${masterKeyFile}`)
  return ring.keys.some((k) => k.id === extra.id)
    ? ring
    : { primary: ring.primary, keys: [...ring.keys, extra] }
}

/**
 * `dsh backup verify`: the manifest's SHA-256 and size, SQLite's integrity check, the schema
 * (no migration this dsh does not know), the master key that opens it, the row counts and the
 * audit chain up to the head the manifest recorded. Reads the copy only: never changes a byte.
 */
export async function verifyBackup(
  ctx: Ctx,
  fileIn: string,
  opts: { masterKeyFile?: string | undefined } = {},
): Promise<BackupReport> {
  const file = resolve(fileIn)
  if (!existsSync(file))
    throw notFound('backup_missing', `no backup at ${file}`, 'give the path of a dsh backup file')
  const checks: BackupCheck[] = []
  const report = (manifest: BackupManifest | null, needsKeyId: string | null = null) => {
    const bad = checks.find((c) => !c.ok)
    return { ok: !bad, file, manifest, checks, problem: bad ? bad.detail : null, needsKeyId }
  }
  let manifest: BackupManifest
  try {
    manifest = readManifest(file)
    checks.push({ name: 'manifest', ok: true, detail: `taken ${manifest.createdAt}` })
  } catch (e) {
    checks.push({ name: 'manifest', ok: false, detail: (e as Error).message })
    return report(null)
  }
  const { sha256, bytes } = await sha256File(file)
  const whole = sha256 === manifest.sha256 && bytes === manifest.bytes
  checks.push({
    name: 'sha256',
    ok: whole,
    detail: whole
      ? `${bytes} bytes, SHA-256 as recorded`
      : `the file changed since the backup was taken (${bytes} bytes, SHA-256 ${sha256.slice(0, 12)}…; the manifest says ${manifest.bytes} bytes, ${manifest.sha256.slice(0, 12)}…)`,
  })
  if (!whole) return report(manifest)
  const unknown = manifest.schema.latest && !(manifest.schema.latest in MIGRATIONS)
  checks.push({
    name: 'schema',
    ok: !unknown,
    detail: unknown
      ? `the backup is from a newer dsh (migration ${manifest.schema.latest}): upgrade dsh first`
      : `${manifest.schema.migrations} migrations, up to ${manifest.schema.latest}`,
  })
  if (unknown) return report(manifest)
  const ring = ringFor(ctx, undefined)
  const withKey = opts.masterKeyFile ? ringFor(ctx, opts.masterKeyFile) : ring
  const hasKey = withKey.keys.some((k) => k.id === manifest.masterKeyId)
  checks.push({
    name: 'master key',
    ok: hasKey,
    detail: hasKey
      ? `opened with master key ${manifest.masterKeyId}`
      : `the backup was taken under master key ${manifest.masterKeyId}, which this store does not hold: give it with --master-key-file`,
  })
  if (!hasKey) return report(manifest, manifest.masterKeyId)
  if (manifest.dialect === 'postgres') {
    await checkArchive(ctx, file, checks)
    return report(manifest)
  }
  await checkSqliteCopy(file, manifest, withKey, checks)
  return report(manifest)
}

async function checkArchive(ctx: Ctx, file: string, checks: BackupCheck[]): Promise<void> {
  try {
    const list = await pgList(file, ctx.env)
    const entries = list.split('\n').filter((l) => l && !l.startsWith(';')).length
    checks.push({ name: 'archive', ok: true, detail: `pg_restore reads ${entries} entries` })
  } catch (e) {
    if (isDshError(e) && e.code === 'pg_tool_missing') throw e
    checks.push({ name: 'archive', ok: false, detail: (e as Error).message })
  }
}

async function checkSqliteCopy(
  file: string,
  manifest: BackupManifest,
  ring: KeyRing,
  checks: BackupCheck[],
): Promise<void> {
  let copy: Awaited<ReturnType<typeof openSqliteCopy>>
  try {
    copy = await openSqliteCopy(file)
  } catch (e) {
    checks.push({ name: 'integrity', ok: false, detail: (e as Error).message })
    return
  }
  try {
    const integrity = await integrityCheck(copy.db).catch((e: Error) => e.message)
    checks.push({
      name: 'integrity',
      ok: integrity === 'ok',
      detail: `integrity_check: ${integrity}`,
    })
    if (integrity !== 'ok') return
    const applied = await appliedMigrations(copy.db)
    const foreign = applied.filter((m) => !(m in MIGRATIONS))
    const sameSchema = foreign.length === 0 && applied.at(-1) === manifest.schema.latest
    checks.push({
      name: 'schema in file',
      ok: sameSchema,
      detail: sameSchema
        ? `the file's schema is the manifest's`
        : foreign.length
          ? `the file holds migrations this dsh does not know: ${foreign.join(', ')}`
          : `the file's schema (${applied.at(-1)}) is not the manifest's (${manifest.schema.latest})`,
    })
    if (!sameSchema) return
    const counts = await rowCounts(copy.db)
    const differ = Object.keys({ ...counts, ...manifest.rowCounts }).filter(
      (t) => counts[t] !== manifest.rowCounts[t],
    )
    checks.push({
      name: 'row counts',
      ok: differ.length === 0,
      detail: differ.length
        ? `row counts differ from the manifest in ${differ.join(', ')}`
        : `${Object.values(counts).reduce((a, b) => a + b, 0)} rows in ${Object.keys(counts).length} tables`,
    })
    const anchors = manifest.auditHead.seq > 0 ? [manifest.auditHead] : []
    const audit = await verifyAuditOf(
      copy.db,
      (envelope, context) => decryptSecret(ring, envelope, context),
      anchors,
    )
    checks.push({
      name: 'audit chain',
      ok: audit.ok,
      detail: audit.ok
        ? `intact: ${audit.rows} rows, head ${audit.headSeq} as recorded`
        : `broken at row ${audit.firstBrokenSeq}: ${audit.reason}`,
    })
  } finally {
    await copy.close()
  }
}
