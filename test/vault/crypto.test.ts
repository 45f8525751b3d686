import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { type DshError, isDshError } from '../../src/core/errors.js'
import { decryptSecret, encryptSecret, keyIdOf, reencrypt } from '../../src/vault/crypto.js'
import { type KeyRing, type MasterKey, masterKeyFrom } from '../../src/vault/master-key.js'

const SECRET = 'sk_live_51Hc0nsumerS3cret!c919'
const CONTEXT = 'gateway:gw_01:consumerSecret'

const newKey = (): MasterKey => masterKeyFrom(randomBytes(32))
const ringOf = (...keys: MasterKey[]): KeyRing => ({ primary: keys[0]!, keys })

function dshErrorFrom(fn: () => unknown): DshError {
  try {
    fn()
  } catch (err) {
    if (isDshError(err)) return err
    throw err
  }
  throw new Error('expected a DshError')
}

function expectNoLeak(err: DshError, ...secrets: string[]) {
  const text = `${err.message}\n${err.hint ?? ''}`
  for (const s of secrets) expect(text).not.toContain(s)
}

/** Flips one bit of the base64url field `index` (1 = key id … 4 = ciphertext) of an envelope. */
function flip(envelope: string, index: number, byte = 0): string {
  const parts = envelope.split('.')
  const bytes = Buffer.from(parts[index]!, 'base64url')
  bytes[byte] = (bytes[byte] ?? 0) ^ 0x01
  parts[index] = bytes.toString('base64url')
  return parts.join('.')
}

describe('encryptSecret / decryptSecret', () => {
  it('round-trips, including empty and non-ASCII values', () => {
    const key = newKey()
    for (const plain of [SECRET, '', 'päss wörd ✓ 🔑']) {
      expect(decryptSecret(ringOf(key), encryptSecret(key, plain, CONTEXT), CONTEXT)).toBe(plain)
    }
  })

  it('produces a single ASCII v1 envelope naming the key', () => {
    const key = newKey()
    const env = encryptSecret(key, SECRET, CONTEXT)
    expect(env).toMatch(/^v1\.k[0-9a-f]{8}\.[\w-]{16}\.[\w-]{22}\.[\w-]+$/)
    expect(keyIdOf(env)).toBe(key.id)
    expect(env).not.toContain(SECRET)
  })

  it('uses a fresh IV every time', () => {
    const key = newKey()
    const a = encryptSecret(key, SECRET, CONTEXT)
    const b = encryptSecret(key, SECRET, CONTEXT)
    expect(a).not.toBe(b)
    expect(a.split('.')[2]).not.toBe(b.split('.')[2])
  })

  it('names the key ids when the envelope was made with a key that is not loaded', () => {
    const right = newKey()
    const wrong = newKey()
    const env = encryptSecret(right, SECRET, CONTEXT)
    const err = dshErrorFrom(() => decryptSecret(ringOf(wrong), env, CONTEXT))
    expect(err.kind).toBe('config')
    expect(err.code).toBe('wrong_master_key')
    expect(err.message).toContain(right.id)
    expect(err.message).toContain(wrong.id)
    expect(err.hint).toContain('DSH_MASTER_KEY')
    expectNoLeak(err, SECRET, right.key.toString('base64'), wrong.key.toString('base64'))
  })

  it.each([
    ['a ciphertext byte', (e: string) => flip(e, 4, 3)],
    ['a tag byte', (e: string) => flip(e, 3, 0)],
    ['an IV byte', (e: string) => flip(e, 2, 5)],
    ['the envelope shape', (e: string) => e.replace('v1.', 'v2.')],
    ['a truncated envelope', (e: string) => e.slice(0, 40)],
    ['junk', () => 'not an envelope'],
  ])('reports secret_tampered after changing %s', (_what, change) => {
    const key = newKey()
    const env = change(encryptSecret(key, SECRET, CONTEXT))
    const err = dshErrorFrom(() => decryptSecret(ringOf(key), env, CONTEXT))
    expect(err.code).toBe('secret_tampered')
    expect(err.message).toContain('failed authentication')
    expectNoLeak(err, SECRET, key.key.toString('base64'))
  })

  it('binds the ciphertext to its context, so it cannot move to another field', () => {
    const key = newKey()
    const env = encryptSecret(key, SECRET, CONTEXT)
    const err = dshErrorFrom(() => decryptSecret(ringOf(key), env, 'gateway:gw_02:consumerSecret'))
    expect(err.code).toBe('secret_tampered')
    expectNoLeak(err, SECRET)
  })

  it('authenticates the key id: relabelling an envelope with another loaded key fails', () => {
    const a = newKey()
    const b = newKey()
    const env = encryptSecret(a, SECRET, CONTEXT).replace(a.id, b.id)
    expect(dshErrorFrom(() => decryptSecret(ringOf(a, b), env, CONTEXT)).code).toBe(
      'secret_tampered',
    )
  })

  it('keyIdOf rejects what is no envelope', () => {
    expect(dshErrorFrom(() => keyIdOf('v1.kzz.a.b.c')).code).toBe('secret_tampered')
  })
})

describe('reencrypt', () => {
  it('moves a secret to the new key and leaves one already there unchanged', () => {
    const oldKey = newKey()
    const next = newKey()
    const ring = ringOf(oldKey, next)
    const env = encryptSecret(oldKey, SECRET, CONTEXT)
    const moved = reencrypt(ring, next, env, CONTEXT)
    expect(keyIdOf(moved)).toBe(next.id)
    expect(decryptSecret(ringOf(next), moved, CONTEXT)).toBe(SECRET)
    expect(reencrypt(ring, next, moved, CONTEXT)).toBe(moved)
  })

  it('still authenticates an envelope already under the new key', () => {
    const next = newKey()
    const env = flip(encryptSecret(next, SECRET, CONTEXT), 4, 0)
    expect(dshErrorFrom(() => reencrypt(ringOf(newKey()), next, env, CONTEXT)).code).toBe(
      'secret_tampered',
    )
  })
})
