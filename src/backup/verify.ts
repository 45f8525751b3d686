import { closeSync, existsSync, openSync, readSync } from 'node:fs'
import { basename, resolve } from 'node:path'
import { MIGRATIONS } from '../../migrations/index.js'
import { verifyAuditOf } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { configError, isDshError, notFound } from '../core/errors.js'
import { isPostgresUrl, openSqliteCopy } from '../store/connect.js'
import { decryptSecret } from '../vault/crypto.js'
import { macKeyFor } from '../vault/mac-keys.js'
import { type KeyRing, type MasterKey, readKeyFile } from '../vault/master-key.js'
import { keyRing } from '../vault/vault.js'
import { appliedMigrations, integrityCheck, rowCounts, sealedKeyIds } from './backup-store.js'
import { type BackupManifest, macMatches, readManifest, sha256File } from './manifest.js'
import { pgList } from './pg.js'
import { checkPgArchiveObjects, checkSqliteObjects } from './schema-check.js'

/**
 * Why a backup is refused, as the error code a refusal carries: a forged or unsigned manifest
 * and every other finding exit 8; a key this store cannot find exits 7 (give the key file).
 */
export type BackupRefusal =
  | 'backup_manifest_forged'
  | 'backup_unsigned'
  | 'backup_key_unknown'
  | 'master_key_needed'
  | 'backup_invalid'

export interface BackupCheck {
  name: string
  ok: boolean
  detail: string
  /** Set on a failed check: the code the refusal carries. */
  code?: BackupRefusal
}

export interface BackupReport {
  ok: boolean
  file: string
  manifest: BackupManifest | null
  /** `signed`, `unsigned` (made before dsh signed backups) or `forged`; null before the MAC step. */
  signature: 'signed' | 'unsigned' | 'forged' | null
  checks: BackupCheck[]
  /** The first check that failed, in words, and its code. */
  problem: string | null
  code: BackupRefusal | null
  /** Set when the master key the backup was taken under is needed (and not held). */
  needsKeyId: string | null
}

export interface VerifyOptions {
  masterKeyFile?: string | undefined
  /** Restore only: an unsigned backup passes the signature step (the other checks still run). */
  acceptUnsigned?: boolean | undefined
  /** PostgreSQL backups: the server whose scratch database gives the expected schema. */
  serverUrl?: string | undefined
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

class Checks {
  readonly list: BackupCheck[] = []
  pass(name: string, detail: string) {
    this.list.push({ name, ok: true, detail })
  }
  fail(name: string, detail: string, code: BackupRefusal = 'backup_invalid') {
    this.list.push({ name, ok: false, detail, code })
  }
  get failed() {
    return this.list.some((c) => !c.ok)
  }
}

/**
 * `dsh backup verify`: the manifest and its MAC, the file's name, SHA-256 and size, the schema
 * version, then (SQLite) the file's form (one checkpointed file, never WAL), integrity, its own
 * migrations, every schema object against the migrations', the key its secrets are under, the
 * row counts and the audit chain up to the recorded head; (PostgreSQL) the archive's table of
 * contents and its schema objects. Reads the copy only: never changes a byte.
 */
export async function verifyBackup(
  ctx: Ctx,
  fileIn: string,
  opts: VerifyOptions = {},
): Promise<BackupReport> {
  const file = resolve(fileIn)
  if (!existsSync(file))
    throw notFound('backup_missing', `no backup at ${file}`, 'give the path of a dsh backup file')
  const checks = new Checks()
  let signature: BackupReport['signature'] = null
  let needsKeyId: string | null = null
  const report = (manifest: BackupManifest | null): BackupReport => {
    const bad = checks.list.find((c) => !c.ok)
    return {
      ok: !bad,
      file,
      manifest,
      signature,
      checks: checks.list,
      problem: bad ? bad.detail : null,
      code: bad ? (bad.code ?? 'backup_invalid') : null,
      needsKeyId: bad?.code === 'master_key_needed' ? needsKeyId : null,
    }
  }
  let manifest: BackupManifest
  try {
    manifest = readManifest(file)
    checks.pass('manifest', `taken ${manifest.createdAt}`)
  } catch (e) {
    checks.fail('manifest', (e as Error).message)
    return report(null)
  }
  const ring = ringFor(ctx, opts.masterKeyFile)
  signature = checkSignature(ctx, ring, manifest, opts, checks)
  if (checks.failed && signature !== 'unsigned') return report(manifest)
  if (!(await checkFile(file, manifest, checks))) return report(manifest)
  const hasKey = ring.keys.some((k) => k.id === manifest.masterKeyId)
  if (manifest.dialect === 'postgres') await checkArchive(ctx, file, manifest, opts, checks)
  else await checkSqliteCopy(file, manifest, hasKey ? ring : null, checks)
  if (!hasKey) {
    needsKeyId = manifest.masterKeyId
    checks.fail(
      'master key',
      `the backup was taken under master key ${manifest.masterKeyId}, which this store no longer holds (its MAC key was kept by \`dsh keys rotate\`): give that key with --master-key-file to check its audit chain and restore it`,
      'master_key_needed',
    )
  }
  return report(manifest)
}

/**
 * The manifest's MAC, under the MAC key of the master key it names (held, given with
 * --master-key-file, or kept when that key was retired). A forged manifest stops everything:
 * nothing it says can be trusted.
 */
function checkSignature(
  ctx: Ctx,
  ring: KeyRing,
  manifest: BackupManifest,
  opts: VerifyOptions,
  checks: Checks,
): BackupReport['signature'] {
  if (manifest.mac === undefined) {
    if (opts.acceptUnsigned)
      checks.pass(
        'signature',
        'unsigned (made before dsh signed backups): accepted with --accept-unsigned',
      )
    else
      checks.fail(
        'signature',
        'unsigned: the manifest has no MAC (a backup made before dsh signed them, or one whose MAC was removed); restore it only with --accept-unsigned',
        'backup_unsigned',
      )
    return 'unsigned'
  }
  const source = macKeyFor(ctx.home, ring, manifest.masterKeyId)
  if (!source) {
    checks.fail(
      'signature',
      `made under key ${manifest.masterKeyId}; restore with the key file that holds it (--master-key-file)`,
      'backup_key_unknown',
    )
    return null
  }
  if (!macMatches(manifest, source.key)) {
    checks.fail(
      'signature',
      `the manifest's MAC does not verify under key ${manifest.masterKeyId}: the manifest was changed or forged`,
      'backup_manifest_forged',
    )
    return 'forged'
  }
  checks.pass(
    'signature',
    `HMAC-SHA256 verifies under key ${manifest.masterKeyId}${source.retired ? ' (retired by `dsh keys rotate`)' : ''}`,
  )
  return 'signed'
}

/** The file is the one the manifest names, whole, and of a schema this dsh knows. */
async function checkFile(file: string, manifest: BackupManifest, checks: Checks): Promise<boolean> {
  if (manifest.file !== basename(file)) {
    checks.fail(
      'file',
      `the manifest describes ${JSON.stringify(manifest.file)}, not ${basename(file)}: keep a backup under the name it was taken with`,
    )
    return false
  }
  const { sha256, bytes } = await sha256File(file)
  if (sha256 !== manifest.sha256 || bytes !== manifest.bytes) {
    checks.fail(
      'sha256',
      `the file changed since the backup was taken (${bytes} bytes, SHA-256 ${sha256.slice(0, 12)}…; the manifest says ${manifest.bytes} bytes, ${String(manifest.sha256).slice(0, 12)}…)`,
    )
    return false
  }
  checks.pass('sha256', `${bytes} bytes, SHA-256 as recorded`)
  if (manifest.schema.latest && !(manifest.schema.latest in MIGRATIONS)) {
    checks.fail(
      'schema',
      `the backup is from a newer dsh (migration ${manifest.schema.latest}): upgrade dsh first`,
    )
    return false
  }
  checks.pass('schema', `${manifest.schema.migrations} migrations, up to ${manifest.schema.latest}`)
  return true
}

async function checkArchive(
  ctx: Ctx,
  file: string,
  manifest: BackupManifest,
  opts: VerifyOptions,
  checks: Checks,
): Promise<void> {
  try {
    const list = await pgList(file, ctx.env)
    const entries = list.split('\n').filter((l) => l && !l.startsWith(';')).length
    checks.pass('archive', `pg_restore reads ${entries} entries`)
  } catch (e) {
    if (isDshError(e) && e.code === 'pg_tool_missing') throw e
    checks.fail('archive', (e as Error).message)
    return
  }
  const server = opts.serverUrl
  if (!server || !isPostgresUrl(server))
    throw configError(
      'schema_check_needs_server',
      'checking a PostgreSQL backup’s schema objects needs a PostgreSQL server (a scratch database is migrated there and compared)',
      'run it with --db (or DSH_DB) set to the PostgreSQL store',
    )
  const objects = await checkPgArchiveObjects(server, file, manifest.schema.latest, ctx.env)
  if (objects.ok)
    checks.pass('schema objects', `${objects.objects} objects, as the migrations make them`)
  else checks.fail('schema objects', objects.findings.join('; '))
}

/** SQLite: a file header with read and write versions 1 (rollback journal); 2 is WAL. */
function sqliteForm(file: string): string | null {
  const header = Buffer.alloc(100)
  const fd = openSync(file, 'r')
  try {
    readSync(fd, header, 0, 100, 0)
  } finally {
    closeSync(fd)
  }
  if (header.subarray(0, 16).toString('latin1') !== 'SQLite format 3\u0000')
    return 'the file is not a SQLite database'
  if (header[18] !== 1 || header[19] !== 1)
    return 'the file is a WAL-mode database: a backup is one checkpointed file in rollback-journal mode, never WAL (its -wal file would change what the SHA-256 vouches for)'
  const beside = ['-wal', '-shm', '-journal'].find((ext) => existsSync(`${file}${ext}`))
  if (beside)
    return `${basename(file)}${beside} lies beside the backup: SQLite would read it with the file; a backup is one file (move it away)`
  return null
}

async function checkSqliteCopy(
  file: string,
  manifest: BackupManifest,
  ring: KeyRing | null,
  checks: Checks,
): Promise<void> {
  const form = sqliteForm(file)
  if (form) {
    checks.fail('single file', form)
    return
  }
  checks.pass('single file', 'one checkpointed file, rollback-journal mode')
  let copy: Awaited<ReturnType<typeof openSqliteCopy>>
  try {
    copy = await openSqliteCopy(file)
  } catch (e) {
    checks.fail('integrity', (e as Error).message)
    return
  }
  try {
    const integrity = await integrityCheck(copy.db).catch((e: Error) => e.message)
    if (integrity !== 'ok') return checks.fail('integrity', `integrity_check: ${integrity}`)
    checks.pass('integrity', 'integrity_check: ok')
    const applied = await appliedMigrations(copy.db)
    const foreign = applied.filter((m) => !(m in MIGRATIONS))
    if (foreign.length > 0)
      return checks.fail(
        'schema in file',
        `the file holds migrations this dsh does not know: ${foreign.join(', ')}`,
      )
    if (applied.at(-1) !== manifest.schema.latest)
      return checks.fail(
        'schema in file',
        `the file's schema (${applied.at(-1)}) is not the manifest's (${manifest.schema.latest})`,
      )
    checks.pass('schema in file', `the file's schema is the manifest's`)
    const objects = await checkSqliteObjects(copy.db, manifest.schema.latest)
    if (!objects.ok) return checks.fail('schema objects', objects.findings.join('; '))
    checks.pass('schema objects', `${objects.objects} objects, as the migrations make them`)
    const keyIds = await sealedKeyIds(copy.db)
    const others = keyIds.filter((k) => k !== manifest.masterKeyId)
    if (others.length > 0)
      return checks.fail(
        'key id',
        `the copy's secrets are sealed under master key ${others.join(', ')}, not ${manifest.masterKeyId} as its manifest says`,
      )
    checks.pass('key id', `secrets sealed under ${manifest.masterKeyId}, as the manifest says`)
    const counts = await rowCounts(copy.db)
    const differ = Object.keys({ ...counts, ...manifest.rowCounts }).filter(
      (t) => counts[t] !== manifest.rowCounts[t],
    )
    if (differ.length > 0)
      return checks.fail(
        'row counts',
        `row counts differ from the manifest in ${differ.join(', ')}`,
      )
    checks.pass(
      'row counts',
      `${Object.values(counts).reduce((a, b) => a + b, 0)} rows in ${Object.keys(counts).length} tables`,
    )
    if (ring) await checkChain(copy.db, manifest, ring, checks)
  } finally {
    await copy.close()
  }
}

/** The chain up to the recorded head; a key that does not open the copy is a finding too. */
async function checkChain(
  db: Parameters<typeof verifyAuditOf>[0],
  manifest: BackupManifest,
  ring: KeyRing,
  checks: Checks,
): Promise<void> {
  const anchors = manifest.auditHead.seq > 0 ? [manifest.auditHead] : []
  try {
    const audit = await verifyAuditOf(
      db,
      (envelope, context) => decryptSecret(ring, envelope, context),
      anchors,
    )
    if (audit.ok)
      checks.pass('audit chain', `intact: ${audit.rows} rows, head ${audit.headSeq} as recorded`)
    else checks.fail('audit chain', `broken at row ${audit.firstBrokenSeq}: ${audit.reason}`)
  } catch (e) {
    if (!isDshError(e)) throw e
    checks.fail('audit chain', `the copy's audit key does not open: ${e.message}`)
  }
}
