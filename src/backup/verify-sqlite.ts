import { closeSync, existsSync, openSync, readSync } from 'node:fs'
import { basename } from 'node:path'
import { MIGRATIONS } from '../../migrations/index.js'
import { verifyAuditOf } from '../audit/audit.js'
import { isDshError } from '../core/errors.js'
import { openSqliteCopy } from '../store/connect.js'
import { decryptSecret } from '../vault/crypto.js'
import type { KeyRing } from '../vault/master-key.js'
import { appliedMigrations, integrityCheck, rowCounts, sealedTexts } from './backup-store.js'
import { type Checks, checkKeyIds, envelopeKeyIds } from './checks.js'
import type { BackupManifest } from './manifest.js'
import { checkSqliteObjects } from './schema-check.js'

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

/**
 * A SQLite backup's copy, read-only: its form, integrity, migrations, schema objects, the key its
 * secrets are under, row counts and (with the key) the audit chain up to the recorded head.
 */
export async function checkSqliteCopy(
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
    if (!checkKeyIds(envelopeKeyIds(await sealedTexts(copy.db)), manifest.masterKeyId, checks))
      return
    const counts = await rowCounts(copy.db)
    const differ = Object.keys({ ...counts, ...manifest.rowCounts }).filter(
      (t) => counts[t] !== manifest.rowCounts[t],
    )
    // A count that differs does not stop the chain check: whether the audit rows were touched
    // too tells the reader more about what happened to the copy.
    if (differ.length > 0)
      checks.fail('row counts', `row counts differ from the manifest in ${differ.join(', ')}`)
    else
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
