import { hkdfSync } from 'node:crypto'
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { configError } from '../core/errors.js'
import type { KeyRing, MasterKey } from './master-key.js'

/*
 * Backup manifests are signed with HMAC-SHA256 under a key derived from the master key with
 * HKDF-SHA256 and a label of its own: the MAC key is not the encryption key, so keeping it after
 * a rotation (to verify old backups) keeps no power to decrypt anything.
 */

/** HKDF's info: names the use, so no other derivation from the master key can collide with it. */
const LABEL = 'dsh backup manifest mac v1'
const MAC_KEY_BYTES = 32

/** `$DSH_HOME/backup-mac.keys`: the MAC keys of master keys retired by `dsh keys rotate`. */
export const RETIRED_MAC_FILE = 'backup-mac.keys'
export const retiredMacPath = (home: string) => join(home, RETIRED_MAC_FILE)

export function backupMacKey(key: MasterKey): Buffer {
  return Buffer.from(hkdfSync('sha256', key.key, Buffer.alloc(0), LABEL, MAC_KEY_BYTES))
}

const LINE = /^(k[0-9a-f]{8}) ([A-Za-z0-9+/]{43}=)$/

/**
 * The retired MAC keys by key id (empty when there are none). One `<keyId> <base64>` per line; a
 * line that is not is refused naming file:line, never skipped (a verifier must not guess).
 */
export function retiredMacKeys(home: string): Map<string, Buffer> {
  const path = retiredMacPath(home)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map()
    throw configError(
      'mac_keys_unreadable',
      `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      'run dsh as the user that owns DSH_HOME',
    )
  }
  const out = new Map<string, Buffer>()
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return
    const m = LINE.exec(line.trim())
    if (!m)
      throw configError(
        'mac_keys_invalid',
        `${path}:${i + 1}: not "<key id> <base64 MAC key>"`,
        'restore this file from your backup of DSH_HOME; dsh writes it on `dsh keys rotate`',
      )
    out.set(m[1]!, Buffer.from(m[2]!, 'base64'))
  })
  return out
}

/**
 * Keeps the MAC key of `key` (about to be retired) so its backups stay verifiable. Appended and
 * fsynced, mode 0600, before the rotation re-encrypts anything; a key already kept is not repeated.
 */
export function retireMacKey(home: string, key: MasterKey): void {
  if (retiredMacKeys(home).has(key.id)) return
  const path = retiredMacPath(home)
  mkdirSync(home, { recursive: true, mode: 0o700 })
  appendFileSync(path, `${key.id} ${backupMacKey(key).toString('base64')}\n`, { mode: 0o600 })
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Where a MAC key for a key id comes from: a master key this process holds, or a retired one. */
export interface MacKeySource {
  key: Buffer
  /** True when only the retired MAC key is known: the master key itself is gone. */
  retired: boolean
}

/** The MAC key for `keyId` from the ring (and any extra master key given), else the retired file. */
export function macKeyFor(home: string, ring: KeyRing, keyId: string): MacKeySource | null {
  const master = ring.keys.find((k) => k.id === keyId)
  if (master) return { key: backupMacKey(master), retired: false }
  const retired = retiredMacKeys(home).get(keyId)
  return retired ? { key: retired, retired: true } : null
}
