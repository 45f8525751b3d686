import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { configError } from '../core/errors.js'
import type { KeyRing, MasterKey } from './master-key.js'

/*
 * Envelope: `v1.<keyId>.<iv>.<tag>.<ciphertext>` (base64url, no padding), one ASCII string that
 * fits a TEXT column. AES-256-GCM, a fresh 96-bit IV per value (GCM breaks badly if an IV
 * repeats under one key), a 16-byte tag. The AAD is `v1.<keyId>.<context>`: the context (e.g.
 * `gateway:<id>:consumerSecret`) stops a ciphertext being moved to another field or row, and
 * the header makes version and key id tamper-evident too.
 */

const ALGORITHM = 'aes-256-gcm'
const IV_BYTES = 12
const TAG_BYTES = 16
const ENVELOPE = /^v1\.(k[0-9a-f]{8})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]*)$/

interface Envelope {
  keyId: string
  iv: Buffer
  tag: Buffer
  ciphertext: Buffer
}

const aad = (keyId: string, context: string) => Buffer.from(`v1.${keyId}.${context}`, 'utf8')

export function encryptSecret(key: MasterKey, plaintext: string, context: string): string {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv(ALGORITHM, key.key, iv, { authTagLength: TAG_BYTES })
  cipher.setAAD(aad(key.id, context))
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  const parts = [iv, cipher.getAuthTag(), ciphertext].map((b) => b.toString('base64url'))
  return `v1.${key.id}.${parts.join('.')}`
}

export function decryptSecret(ring: KeyRing, envelope: string, context: string): string {
  const env = parseEnvelope(envelope, context)
  const key = ring.keys.find((k) => k.id === env.keyId)
  if (!key) {
    const loaded = ring.keys.map((k) => k.id).join(', ')
    throw configError(
      'wrong_master_key',
      `a stored secret (${context}) was encrypted with master key ${env.keyId}, but the loaded key is ${loaded}`,
      `use the master key this store was set up with: restore its master.key into DSH_HOME, or set DSH_MASTER_KEY to it (its id is ${env.keyId})`,
    )
  }
  try {
    const decipher = createDecipheriv(ALGORITHM, key.key, env.iv, { authTagLength: TAG_BYTES })
    decipher.setAuthTag(env.tag)
    decipher.setAAD(aad(env.keyId, context))
    return Buffer.concat([decipher.update(env.ciphertext), decipher.final()]).toString('utf8')
  } catch (err) {
    throw tampered(context, 'it was changed, or belongs to another field', err)
  }
}

/** The id of the key an envelope was made with (secret_tampered when it is no envelope). */
export function keyIdOf(envelope: string): string {
  return parseEnvelope(envelope, '').keyId
}

/**
 * The secret under `newKey`. An envelope already under `newKey` (a resumed rotation) is
 * authenticated and returned unchanged, so callers can skip rows whose value did not change.
 */
export function reencrypt(
  ring: KeyRing,
  newKey: MasterKey,
  envelope: string,
  context: string,
): string {
  if (keyIdOf(envelope) === newKey.id) {
    decryptSecret({ primary: newKey, keys: [newKey] }, envelope, context)
    return envelope
  }
  return encryptSecret(newKey, decryptSecret(ring, envelope, context), context)
}

function parseEnvelope(envelope: string, context: string): Envelope {
  const m = ENVELOPE.exec(envelope)
  if (!m) throw tampered(context, 'it is not a valid v1 envelope')
  const [, keyId = '', iv = '', tag = '', ciphertext = ''] = m
  const parts = [iv, tag, ciphertext].map((s) => Buffer.from(s, 'base64url'))
  // Reject non-canonical base64url (stray low bits), so one envelope has one spelling.
  if (parts.some((b, i) => b.toString('base64url') !== [iv, tag, ciphertext][i])) {
    throw tampered(context, 'it is not a valid v1 envelope')
  }
  const [ivBytes, tagBytes, ctBytes] = parts as [Buffer, Buffer, Buffer]
  return { keyId, iv: ivBytes, tag: tagBytes, ciphertext: ctBytes }
}

function tampered(context: string, why: string, cause?: unknown) {
  return configError(
    'secret_tampered',
    `a stored secret${context ? ` (${context})` : ''} failed authentication: ${why}`,
    're-enter this credential, or restore the store from a backup made before the change',
    cause,
  )
}
