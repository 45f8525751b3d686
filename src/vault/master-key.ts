import { createHash } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { inspect } from 'node:util'
import { configError } from '../core/errors.js'
import { KEY_BYTES, keyFilePath, nextKeyFilePath } from './key-file.js'

/** A 256-bit master key; `id` names it in every envelope so a wrong key is told from tampering. */
export interface MasterKey {
  readonly id: string
  readonly key: Buffer
}

/**
 * The keys that can decrypt. `primary` encrypts new values (the next key during an unfinished
 * rotation); `keys` also holds the next key
 * while a rotation is unfinished, so every stored envelope still finds its key by id.
 */
export interface KeyRing {
  primary: MasterKey
  keys: MasterKey[]
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/
const GENERATE_HINT = 'generate one with `openssl rand -base64 32`'

/**
 * 'k' + the first 8 hex digits of SHA-256 of the key bytes: stable, reveals nothing useful,
 * and an operator can compute it with `base64 -d master.key | sha256sum`.
 */
export function keyIdFor(bytes: Uint8Array): string {
  return `k${createHash('sha256').update(bytes).digest('hex').slice(0, 8)}`
}

export function masterKeyFrom(bytes: Buffer): MasterKey {
  const mk = { id: keyIdFor(bytes), key: bytes }
  // Non-enumerable, so spreading still copies both fields; only accidental logging is masked.
  Object.defineProperty(mk, 'toJSON', { value: () => ({ id: mk.id }) })
  Object.defineProperty(mk, inspect.custom, { value: () => `MasterKey(${mk.id})` })
  return mk
}

/**
 * Parses base64 of exactly 32 bytes. `source` names where it came from (an env var or a path)
 * in the error; the value itself is never echoed.
 */
export function parseMasterKey(text: string, source: string, hint = GENERATE_HINT): MasterKey {
  const trimmed = text.trim()
  if (trimmed === '') throw configError('bad_master_key', `${source} is empty`, hint)
  if (!BASE64.test(trimmed)) {
    throw configError(
      'bad_master_key',
      `${source} is not base64 (expected 44 characters of A-Z, a-z, 0-9, + and /)`,
      hint,
    )
  }
  const bytes = Buffer.from(trimmed, 'base64')
  if (bytes.length !== KEY_BYTES) {
    throw configError(
      'bad_master_key',
      `${source} decodes to ${bytes.length} bytes; a master key is exactly ${KEY_BYTES} bytes`,
      hint,
    )
  }
  return masterKeyFrom(bytes)
}

/** The key in `path`, or null when there is no such file. */
export function readKeyFile(path: string): MasterKey | null {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return null
    throw configError(
      'master_key_unreadable',
      `cannot read the master key file ${path} (${code ?? 'error'})`,
      'run dsh as the user that owns DSH_HOME, or set DSH_MASTER_KEY',
      err,
    )
  }
  return parseMasterKey(
    text,
    path,
    'restore this file from your backup: a new key cannot decrypt secrets stored with the old one',
  )
}

/**
 * The key comes from the environment, not `$DSH_HOME/master.key`: DSH_MASTER_KEY (the key) or
 * DSH_MASTER_KEY_FILE (a file holding it outside the state folder, e.g. a systemd credential).
 * Empty means unset, as in `dsh init`.
 */
export const usesEnvKey = (env: Record<string, string | undefined>) =>
  Boolean(env['DSH_MASTER_KEY']) || Boolean(env['DSH_MASTER_KEY_FILE'])

/** The key DSH_MASTER_KEY_FILE names (read fresh: systemd hands it in at every start). */
function keyFromNamedFile(path: string): MasterKey {
  const key = readKeyFile(path)
  if (!key)
    throw configError(
      'master_key_missing',
      `DSH_MASTER_KEY_FILE names ${path}, which does not exist`,
      'point DSH_MASTER_KEY_FILE at the file holding the master key (base64 of 32 bytes), e.g. %d/master-key with LoadCredential=master-key:/etc/dsh/master.key under systemd',
    )
  return key
}

/**
 * The ring for this process: DSH_MASTER_KEY (plus DSH_NEW_MASTER_KEY during a rotation) when
 * set, else `$DSH_HOME/master.key` (plus `master.key.next` left by an unfinished rotation).
 */
export function loadKeyRing(home: string, env: Record<string, string | undefined>): KeyRing {
  if (usesEnvKey(env)) {
    const primary = env['DSH_MASTER_KEY']
      ? parseMasterKey(env['DSH_MASTER_KEY'], 'DSH_MASTER_KEY')
      : keyFromNamedFile(env['DSH_MASTER_KEY_FILE'] ?? '')
    const nextText = env['DSH_NEW_MASTER_KEY']
    const next = nextText ? parseMasterKey(nextText, 'DSH_NEW_MASTER_KEY') : null
    // The new env key is only this run's: other processes still hold just DSH_MASTER_KEY.
    return next && next.id !== primary.id
      ? { primary, keys: [primary, next] }
      : { primary, keys: [primary] }
  }
  const path = keyFilePath(home)
  const primary = readKeyFile(path)
  if (!primary) {
    const empty = env['DSH_MASTER_KEY'] === '' ? ' (DSH_MASTER_KEY is set but empty)' : ''
    throw configError(
      'master_key_missing',
      `no master key: ${path} does not exist and DSH_MASTER_KEY is not set${empty}`,
      'run `dsh init`, or set DSH_MASTER_KEY (base64 of 32 bytes) in containers',
    )
  }
  return ringOf(primary, readKeyFile(nextKeyFilePath(home)))
}

/**
 * While a rotation is unfinished the next key is primary: a secret written meanwhile by another
 * process is then already under the key that survives the rotation, never under the one that
 * is about to be retired.
 */
function ringOf(current: MasterKey, next: MasterKey | null): KeyRing {
  if (!next || next.id === current.id) return { primary: current, keys: [current] }
  return { primary: next, keys: [current, next] }
}

/**
 * True when group or others have any access to master.key (or master.key.next): worth a warning,
 * not a failure, since the operator may have a reason (e.g. a shared service group).
 */
export function keyFileTooOpen(home: string): boolean {
  if (process.platform === 'win32') return false
  return [keyFilePath(home), nextKeyFilePath(home)].some((path) => {
    try {
      return (statSync(path).mode & 0o077) !== 0
    } catch {
      return false
    }
  })
}
