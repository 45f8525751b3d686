import { existsSync } from 'node:fs'
import { basename, resolve } from 'node:path'
import { MIGRATIONS } from '../../migrations/index.js'
import type { Ctx } from '../context.js'
import { configError, isDshError, notFound } from '../core/errors.js'
import { isPostgresUrl } from '../store/connect.js'
import { macKeyFor } from '../vault/mac-keys.js'
import { type KeyRing, type MasterKey, readKeyFile } from '../vault/master-key.js'
import { keyRing } from '../vault/vault.js'
import {
  type BackupCheck,
  type BackupRefusal,
  Checks,
  checkKeyIds,
  envelopeKeyIds,
} from './checks.js'
import { type BackupManifest, macMatches, readManifest, sha256File } from './manifest.js'
import { pgList, pgSealedText } from './pg.js'
import { checkPgArchiveObjects } from './schema-check.js'
import { checkSqliteCopy } from './verify-sqlite.js'

export type { BackupCheck, BackupRefusal } from './checks.js'

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
  if (!objects.ok) return checks.fail('schema objects', objects.findings.join('; '))
  checks.pass('schema objects', `${objects.objects} objects, as the migrations make them`)
  // Before pg_restore replaces anything: a copy whose secrets the named key cannot open would
  // be restored and then fail half-way through re-encryption.
  checkKeyIds(envelopeKeyIds([await pgSealedText(file, ctx.env)]), manifest.masterKeyId, checks)
}
