import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type DshError, isDshError } from '../../src/core/errors.js'
import { decryptSecret, encryptSecret, keyIdOf, reencrypt } from '../../src/vault/crypto.js'
import { ensureKeyFile, keyFilePath, nextKeyFilePath } from '../../src/vault/key-file.js'
import { loadKeyRing } from '../../src/vault/master-key.js'
import { beginRotation, finishRotation, rotationPending } from '../../src/vault/rotation.js'
import { tempHome } from '../helpers/temp-home.js'

function dshErrorFrom(fn: () => unknown): DshError {
  try {
    fn()
  } catch (err) {
    if (isDshError(err)) return err
    throw err
  }
  throw new Error('expected a DshError')
}

const b64 = (n: number) => randomBytes(n).toString('base64')
const CTX = 'gateway:gw_01:consumerSecret'

let home: string
let cleanup: () => void
beforeEach(() => {
  ;({ home, cleanup } = tempHome())
  ensureKeyFile(home)
})
afterEach(() => cleanup())

describe('file key rotation', () => {
  it('creates master.key.next with mode 0600 and a different key', () => {
    const before = loadKeyRing(home, {})
    const next = beginRotation(home, {})
    expect(next.id).not.toBe(before.primary.id)
    expect(statSync(nextKeyFilePath(home)).mode & 0o777).toBe(0o600)
    expect(readFileSync(nextKeyFilePath(home), 'utf8').trim()).toBe(next.key.toString('base64'))
    expect(rotationPending(home, {})).toBe(true)
    // No temp files are left behind.
    expect(readdirSync(home).sort()).toEqual(['master.key', 'master.key.next'])
  })

  it('resumes an interrupted rotation with the same next key', () => {
    const first = beginRotation(home, {})
    const again = beginRotation(home, {})
    expect(again.id).toBe(first.id)
    expect(again.key.equals(first.key)).toBe(true)
  })

  it('after a crash between begin and finish, every ciphertext still decrypts', () => {
    const oldRing = loadKeyRing(home, {})
    const oldEnv = encryptSecret(oldRing.primary, 'old-secret', CTX)
    const next = beginRotation(home, {})
    const newEnv = encryptSecret(next, 'new-secret', CTX)
    // "Crash": a new process loads the ring with both files present.
    const ring = loadKeyRing(home, {})
    expect(ring.primary.id).toBe(next.id)
    expect(ring.keys.map((k) => k.id)).toEqual([oldRing.primary.id, next.id])
    expect(decryptSecret(ring, oldEnv, CTX)).toBe('old-secret')
    expect(decryptSecret(ring, newEnv, CTX)).toBe('new-secret')
  })

  it('finish installs the new key; old-key ciphertexts then fail as wrong_master_key', () => {
    const oldRing = loadKeyRing(home, {})
    const oldKeyText = oldRing.primary.key.toString('base64')
    const stale = encryptSecret(oldRing.primary, 'old-secret', CTX)
    const next = beginRotation(home, {})
    const moved = reencrypt(loadKeyRing(home, {}), next, stale, CTX)
    expect(finishRotation(home, {})).toBe(true)
    expect(existsSync(nextKeyFilePath(home))).toBe(false)
    expect(statSync(keyFilePath(home)).mode & 0o777).toBe(0o600)

    const ring = loadKeyRing(home, {})
    expect(ring.primary.id).toBe(next.id)
    expect(ring.keys).toHaveLength(1)
    expect(keyIdOf(moved)).toBe(next.id)
    expect(decryptSecret(ring, moved, CTX)).toBe('old-secret')
    const err = dshErrorFrom(() => decryptSecret(ring, stale, CTX))
    expect(err.code).toBe('wrong_master_key')
    expect(err.message).toContain(oldRing.primary.id)
    expect(`${err.message}\n${err.hint}`).not.toContain('old-secret')
    expect(`${err.message}\n${err.hint}`).not.toContain(oldKeyText)
    expect(rotationPending(home, {})).toBe(false)
  })

  it('finish with nothing pending does nothing', () => {
    const before = readFileSync(keyFilePath(home), 'utf8')
    expect(finishRotation(home, {})).toBe(false)
    expect(readFileSync(keyFilePath(home), 'utf8')).toBe(before)
  })

  it('refuses to begin without a current key', () => {
    cleanup()
    ;({ home, cleanup } = tempHome())
    expect(dshErrorFrom(() => beginRotation(home, {})).code).toBe('master_key_missing')
    expect(existsSync(nextKeyFilePath(home))).toBe(false)
  })
})

describe('env key rotation', () => {
  it('takes the new key from DSH_NEW_MASTER_KEY and touches no files', () => {
    const newText = b64(32)
    const env = { DSH_MASTER_KEY: b64(32), DSH_NEW_MASTER_KEY: newText }
    const before = readdirSync(home)
    const next = beginRotation(home, env)
    expect(next.key.toString('base64')).toBe(newText)
    expect(finishRotation(home, env)).toBe(false)
    expect(readdirSync(home)).toEqual(before)
    expect(rotationPending(home, env)).toBe(false)
  })

  it('needs DSH_NEW_MASTER_KEY, valid and different from the current key', () => {
    const current = b64(32)
    expect(dshErrorFrom(() => beginRotation(home, { DSH_MASTER_KEY: current })).code).toBe(
      'new_master_key_missing',
    )
    const bad = b64(31)
    const err = dshErrorFrom(() =>
      beginRotation(home, { DSH_MASTER_KEY: current, DSH_NEW_MASTER_KEY: bad }),
    )
    expect(err.code).toBe('bad_master_key')
    expect(`${err.message}\n${err.hint}`).not.toContain(bad)
    const same = dshErrorFrom(() =>
      beginRotation(home, { DSH_MASTER_KEY: current, DSH_NEW_MASTER_KEY: current }),
    )
    expect(same.code).toBe('bad_master_key')
    expect(`${same.message}\n${same.hint}`).not.toContain(current)
  })
})
