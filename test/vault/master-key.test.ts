import { randomBytes } from 'node:crypto'
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type DshError, isDshError } from '../../src/core/errors.js'
import { ensureKeyFile, keyFilePath, nextKeyFilePath } from '../../src/vault/key-file.js'
import {
  keyFileTooOpen,
  keyIdFor,
  loadKeyRing,
  parseMasterKey,
} from '../../src/vault/master-key.js'
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

let home: string
let cleanup: () => void
beforeEach(() => {
  ;({ home, cleanup } = tempHome())
})
afterEach(() => cleanup())

describe('ensureKeyFile', () => {
  it('creates a 0600 key file of base64 32 bytes once, and never replaces it', () => {
    expect(ensureKeyFile(home)).toBe(true)
    const text = readFileSync(keyFilePath(home), 'utf8')
    expect(text).toMatch(/^[A-Za-z0-9+/]{43}=\n$/)
    expect(statSync(keyFilePath(home)).mode & 0o777).toBe(0o600)
    expect(ensureKeyFile(home)).toBe(false)
    expect(readFileSync(keyFilePath(home), 'utf8')).toBe(text)
  })
})

describe('loadKeyRing from the key file', () => {
  it('loads master.key with an id derived from the key bytes', () => {
    ensureKeyFile(home)
    const ring = loadKeyRing(home, {})
    const bytes = Buffer.from(readFileSync(keyFilePath(home), 'utf8').trim(), 'base64')
    expect(ring.primary.key.equals(bytes)).toBe(true)
    expect(ring.primary.id).toBe(keyIdFor(bytes))
    expect(ring.primary.id).toMatch(/^k[0-9a-f]{8}$/)
    expect(ring.keys).toEqual([ring.primary])
  })

  it('reports a missing key file with a hint to init or use DSH_MASTER_KEY', () => {
    const err = dshErrorFrom(() => loadKeyRing(home, {}))
    expect(err.kind).toBe('config')
    expect(err.code).toBe('master_key_missing')
    expect(err.message).toContain(keyFilePath(home))
    expect(err.hint).toBe(
      'run `dsh init`, or set DSH_MASTER_KEY (base64 of 32 bytes) in containers',
    )
  })

  it('treats an empty DSH_MASTER_KEY as unset, and says so when the file is missing', () => {
    const err = dshErrorFrom(() => loadKeyRing(home, { DSH_MASTER_KEY: '' }))
    expect(err.code).toBe('master_key_missing')
    expect(err.message).toContain('empty')
  })

  it.each([
    ['empty', ''],
    ['not base64', 'this is not a key!'],
    ['31 bytes', b64(31)],
    ['33 bytes', b64(33)],
  ])('rejects a key file that is %s without echoing it', (_what, content) => {
    writeFileSync(keyFilePath(home), `${content}\n`, { mode: 0o600 })
    const err = dshErrorFrom(() => loadKeyRing(home, {}))
    expect(err.code).toBe('bad_master_key')
    expect(err.message).toContain(keyFilePath(home))
    if (content) expect(`${err.message}${err.hint}`).not.toContain(content)
  })

  it('warns (without failing) when the key file is readable by others', () => {
    ensureKeyFile(home)
    expect(keyFileTooOpen(home)).toBe(false)
    chmodSync(keyFilePath(home), 0o644)
    expect(keyFileTooOpen(home)).toBe(true)
    expect(loadKeyRing(home, {}).keys).toHaveLength(1)
  })

  it('holds master.key.next too while a rotation is unfinished, the next key being primary', () => {
    ensureKeyFile(home)
    const next = b64(32)
    writeFileSync(nextKeyFilePath(home), `${next}\n`, { mode: 0o600 })
    const ring = loadKeyRing(home, {})
    const nextId = keyIdFor(Buffer.from(next, 'base64'))
    expect(ring.keys.map((k) => k.id)).toEqual([ring.keys[0]!.id, nextId])
    expect(ring.keys[0]!.id).not.toBe(nextId)
    expect(ring.primary.id).toBe(nextId)
  })
})

describe('loadKeyRing from DSH_MASTER_KEY', () => {
  it('prefers the env key over any key file', () => {
    ensureKeyFile(home)
    const key = b64(32)
    const ring = loadKeyRing(home, { DSH_MASTER_KEY: key })
    expect(ring.primary.key.toString('base64')).toBe(key)
    expect(ring.keys).toHaveLength(1)
  })

  it('accepts surrounding whitespace and no padding', () => {
    const bytes = randomBytes(32)
    const ring = loadKeyRing(home, {
      DSH_MASTER_KEY: ` ${bytes.toString('base64').replace(/=+$/, '')}\n`,
    })
    expect(ring.primary.key.equals(bytes)).toBe(true)
  })

  it.each([
    ['bad base64', 'not*base64*at*all', 'not base64'],
    ['31 bytes', b64(31), '31 bytes'],
    ['16 bytes', b64(16), '16 bytes'],
    ['inner padding', `${b64(16)}${b64(16)}`, 'not base64'],
  ])('rejects %s, saying what is wrong and never the value', (_what, value, says) => {
    const err = dshErrorFrom(() => loadKeyRing(home, { DSH_MASTER_KEY: value }))
    expect(err.code).toBe('bad_master_key')
    expect(err.message).toContain('DSH_MASTER_KEY')
    expect(err.message).toContain(says)
    expect(`${err.message}\n${err.hint}`).not.toContain(value)
  })

  it('adds DSH_NEW_MASTER_KEY during a rotation, and checks it the same way', () => {
    const ring = loadKeyRing(home, { DSH_MASTER_KEY: b64(32), DSH_NEW_MASTER_KEY: b64(32) })
    expect(ring.keys).toHaveLength(2)
    expect(ring.keys[0]).toBe(ring.primary)
    const bad = b64(31)
    const err = dshErrorFrom(() =>
      loadKeyRing(home, { DSH_MASTER_KEY: b64(32), DSH_NEW_MASTER_KEY: bad }),
    )
    expect(err.code).toBe('bad_master_key')
    expect(err.message).toContain('DSH_NEW_MASTER_KEY')
    expect(`${err.message}\n${err.hint}`).not.toContain(bad)
  })
})

describe('loadKeyRing from DSH_MASTER_KEY_FILE (a systemd credential)', () => {
  it('reads the key from the named file, not master.key in DSH_HOME', () => {
    ensureKeyFile(home)
    const key = b64(32)
    const file = `${home}/credential-master-key`
    writeFileSync(file, `${key}\n`, { mode: 0o400 })
    const ring = loadKeyRing(home, { DSH_MASTER_KEY_FILE: file })
    expect(ring.primary.key.toString('base64')).toBe(key)
    expect(ring.primary.id).toBe(keyIdFor(Buffer.from(key, 'base64')))
    expect(ring.keys).toHaveLength(1)
    // DSH_MASTER_KEY, the key itself, wins over a file naming one
    const other = b64(32)
    expect(
      loadKeyRing(home, { DSH_MASTER_KEY: other, DSH_MASTER_KEY_FILE: file }).primary.key.toString(
        'base64',
      ),
    ).toBe(other)
  })

  it('a missing file is master_key_missing naming the path and how systemd hands it in', () => {
    const err = dshErrorFrom(() =>
      loadKeyRing(home, { DSH_MASTER_KEY_FILE: `${home}/no-such-credential` }),
    )
    expect(err.code).toBe('master_key_missing')
    expect(err.message).toBe(
      `DSH_MASTER_KEY_FILE names ${home}/no-such-credential, which does not exist`,
    )
    expect(err.hint).toContain('LoadCredential=master-key:/etc/dsh/master.key')
  })

  it('a file that holds no key is bad_master_key naming the file, never its content', () => {
    const file = `${home}/bad-credential`
    writeFileSync(file, 'not a key at all')
    const err = dshErrorFrom(() => loadKeyRing(home, { DSH_MASTER_KEY_FILE: file }))
    expect(err.code).toBe('bad_master_key')
    expect(err.message).toContain(file)
    expect(err.message).not.toContain('not a key at all')
  })
})

describe('parseMasterKey', () => {
  it('never shows key bytes when logged or serialised', () => {
    const text = b64(32)
    const key = parseMasterKey(text, 'test')
    expect(JSON.stringify({ key })).toBe(`{"key":{"id":"${key.id}"}}`)
    expect(`${JSON.stringify(key)}`).not.toContain(text)
    expect({ ...key }.key.toString('base64')).toBe(text)
  })
})
