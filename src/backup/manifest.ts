import { createHash } from 'node:crypto'
import { createReadStream, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { validationError } from '../core/errors.js'

/** What `<backup>.json` says of its backup: enough to trust it, or see why not, before a restore. */
export interface BackupManifest {
  format: 'dsh-backup/1'
  dshVersion: string
  dialect: 'sqlite' | 'postgres'
  /** The store's applied migrations: the newest one's name and how many. */
  schema: { latest: string; migrations: number }
  createdAt: string
  /** The backup file's name (it sits beside the manifest). */
  file: string
  bytes: number
  sha256: string
  rowCounts: Record<string, number>
  /** The audit chain's head in the copy: an anchor kept outside the store. */
  auditHead: { seq: number; hash: string }
  /** The master key that opens the copy's secrets. The key itself is never in a backup. */
  masterKeyId: string
}

export const manifestPath = (file: string) => `${file}.json`

export function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    let bytes = 0
    createReadStream(path)
      .on('data', (chunk) => {
        bytes += chunk.length
        hash.update(chunk)
      })
      .on('error', reject)
      .on('end', () => resolve({ sha256: hash.digest('hex'), bytes }))
  })
}

/** Written beside the backup through a temporary name, so a manifest is whole or absent. */
export function writeManifest(file: string, m: BackupManifest): void {
  const tmp = `${manifestPath(file)}.partial`
  writeFileSync(tmp, `${JSON.stringify(m, null, 2)}\n`, { mode: 0o600 })
  renameSync(tmp, manifestPath(file))
}

const FIELDS = ['format', 'dialect', 'schema', 'createdAt', 'sha256', 'auditHead', 'masterKeyId']

export function readManifest(file: string): BackupManifest {
  let text: string
  try {
    text = readFileSync(manifestPath(file), 'utf8')
  } catch {
    throw validationError(
      'manifest_missing',
      `no manifest beside ${file} (${manifestPath(file)})`,
      'a dsh backup is the file and its .json manifest, kept together',
    )
  }
  let m: Partial<BackupManifest>
  try {
    m = JSON.parse(text) as Partial<BackupManifest>
  } catch {
    throw validationError('manifest_invalid', `${manifestPath(file)} is not JSON`)
  }
  const missing = FIELDS.filter((k) => m[k as keyof BackupManifest] === undefined)
  if (m.format !== 'dsh-backup/1' || missing.length > 0)
    throw validationError(
      'manifest_invalid',
      `${manifestPath(file)} is not a dsh backup manifest${missing.length ? ` (missing ${missing.join(', ')})` : ''}`,
    )
  return m as BackupManifest
}
