import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { createReadStream, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { isDshError, validationError } from '../core/errors.js'

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
  /**
   * HMAC-SHA256 (hex) of the canonical JSON of every other field, under the backup MAC key of
   * `masterKeyId` (src/vault/mac-keys.ts). Absent in backups made before dsh signed them.
   */
  mac?: string
}

/**
 * JSON with object keys sorted at every depth and no white space: one spelling per manifest, so
 * the MAC does not depend on how the file was pretty-printed or its keys ordered.
 */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`
  }
  return JSON.stringify(v)
}

/** The MAC over every field but `mac` itself. */
export function manifestMac(m: BackupManifest, key: Buffer): string {
  const { mac: _mac, ...signed } = m
  return createHmac('sha256', key).update(canonicalJson(signed), 'utf8').digest('hex')
}

/** Compared in constant time: a forger learns nothing from how long the refusal took. */
export function macMatches(m: BackupManifest, key: Buffer): boolean {
  if (typeof m.mac !== 'string' || !/^[0-9a-f]{64}$/.test(m.mac)) return false
  return timingSafeEqual(Buffer.from(manifestMac(m, key), 'hex'), Buffer.from(m.mac, 'hex'))
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

const FIELDS = [
  'format',
  'dialect',
  'schema',
  'createdAt',
  'file',
  'bytes',
  'sha256',
  'rowCounts',
  'auditHead',
  'masterKeyId',
]

/** A manifest is a few kilobytes: anything past this (or not a regular file) is not one. */
const MANIFEST_LIMIT = 1024 * 1024

export function readManifest(file: string): BackupManifest {
  let text: string
  try {
    const st = statSync(manifestPath(file))
    if (!st.isFile() || st.size > MANIFEST_LIMIT)
      throw validationError(
        'manifest_invalid',
        `${manifestPath(file)} is not a dsh backup manifest (${st.isFile() ? 'larger than 1 MiB' : 'not a regular file'})`,
      )
    text = readFileSync(manifestPath(file), 'utf8')
  } catch (e) {
    if (isDshError(e)) throw e
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
  const wrong = [
    typeof m.file === 'string' ? null : 'file',
    typeof m.sha256 === 'string' ? null : 'sha256',
    typeof m.bytes === 'number' ? null : 'bytes',
    typeof m.masterKeyId === 'string' && /^k[0-9a-f]{8}$/.test(m.masterKeyId)
      ? null
      : 'masterKeyId',
    m.mac === undefined || typeof m.mac === 'string' ? null : 'mac',
  ].filter((x) => x !== null)
  if (wrong.length > 0)
    throw validationError(
      'manifest_invalid',
      `${manifestPath(file)} is not a dsh backup manifest (bad ${wrong.join(', ')})`,
    )
  return m as BackupManifest
}
