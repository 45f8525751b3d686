import { closeSync, fsyncSync, openSync, renameSync } from 'node:fs'
import { configError } from '../core/errors.js'
import {
  createKeyFileExclusive,
  fsyncDir,
  keyFilePath,
  newKeyText,
  nextKeyFilePath,
} from './key-file.js'
import {
  loadKeyRing,
  type MasterKey,
  parseMasterKey,
  readKeyFile,
  usesEnvKey,
} from './master-key.js'

/*
 * Master key rotation, file side. The protocol (`dsh keys rotate`):
 *
 *   1. beginRotation: the new key is made durable in master.key.next (or taken from
 *      DSH_NEW_MASTER_KEY) BEFORE anything is encrypted with it.
 *   2. The caller re-encrypts every stored secret with that key (reencrypt in crypto.ts) in ONE
 *      store transaction, so the store never holds a mix it cannot explain.
 *   3. finishRotation: master.key.next is renamed over master.key, atomically.
 *
 * A crash after 1 or 2 leaves both files. loadKeyRing then holds both keys, so every envelope
 * still decrypts by its key id whether or not the transaction committed, and running rotate
 * again reuses the same next key, re-encrypts what is left and finishes. Deleting
 * master.key.next by hand is only safe when the transaction did not commit.
 *
 * Under DSH_MASTER_KEY no file is touched: the operator supplies DSH_NEW_MASTER_KEY for the
 * run, then makes it the DSH_MASTER_KEY of every process.
 */

/** The key to re-encrypt with; an unfinished rotation's key when there is one. */
export function beginRotation(home: string, env: Record<string, string | undefined>): MasterKey {
  // Fails early when the current key is missing or unreadable: rotating needs it to decrypt.
  const ring = loadKeyRing(home, env)
  if (usesEnvKey(env)) return newKeyFromEnv(env, ring.primary)
  const nextPath = nextKeyFilePath(home)
  const pending = readKeyFile(nextPath)
  if (pending) return pending
  for (;;) {
    const text = newKeyText()
    // A 32-bit key id colliding with the current one would make the two keys indistinguishable.
    if (parseMasterKey(text, 'new key').id === ring.primary.id) continue
    createKeyFileExclusive(nextPath, text)
    // Read back rather than trust `text`: a concurrent rotate may have linked its key first,
    // and both runs must then re-encrypt with that one.
    const made = readKeyFile(nextPath)
    if (made) return made
  }
}

function newKeyFromEnv(env: Record<string, string | undefined>, current: MasterKey): MasterKey {
  const text = env['DSH_NEW_MASTER_KEY']
  if (!text) {
    throw configError(
      'new_master_key_missing',
      'DSH_MASTER_KEY (or DSH_MASTER_KEY_FILE) is set, so the new key must come from DSH_NEW_MASTER_KEY, which is not set',
      'set DSH_NEW_MASTER_KEY (e.g. `openssl rand -base64 32`) for this run, then make it the DSH_MASTER_KEY of every process',
    )
  }
  const next = parseMasterKey(text, 'DSH_NEW_MASTER_KEY')
  if (next.id === current.id) {
    throw configError(
      'bad_master_key',
      'DSH_NEW_MASTER_KEY is the same key as DSH_MASTER_KEY',
      'generate a new key with `openssl rand -base64 32`',
    )
  }
  return next
}

/**
 * Makes the next key the master key. Call only after the re-encryption transaction committed.
 * Returns false when there was nothing to do (env keys, or already finished).
 */
export function finishRotation(home: string, env: Record<string, string | undefined>): boolean {
  if (usesEnvKey(env)) return false
  const nextPath = nextKeyFilePath(home)
  // Never install a key file that would not load.
  if (!readKeyFile(nextPath)) return false
  const fd = openSync(nextPath, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(nextPath, keyFilePath(home))
  fsyncDir(home)
  return true
}

/** True when a rotation began and has not finished (file keys only). */
export function rotationPending(home: string, env: Record<string, string | undefined>): boolean {
  return !usesEnvKey(env) && readKeyFile(nextKeyFilePath(home)) !== null
}
