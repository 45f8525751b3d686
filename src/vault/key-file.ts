import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  rmSync,
  writeSync,
} from 'node:fs'
import { dirname, join } from 'node:path'

export const KEY_FILE = 'master.key'
/** The new key while `dsh keys rotate` runs; see rotation.ts. */
export const NEXT_KEY_FILE = 'master.key.next'
export const KEY_BYTES = 32

export const keyFilePath = (home: string) => join(home, KEY_FILE)
export const nextKeyFilePath = (home: string) => join(home, NEXT_KEY_FILE)

/** A fresh key in the file format: base64 of 32 random bytes and a newline. */
export const newKeyText = () => `${randomBytes(KEY_BYTES).toString('base64')}\n`

/**
 * Creates `$DSH_HOME/master.key` (base64 of 32 random bytes, mode 0600) unless it exists.
 * Created exclusively, so two `dsh init` runs at once never overwrite each other's key.
 * Returns true when a key was made now.
 */
export function ensureKeyFile(home: string): boolean {
  mkdirSync(home, { recursive: true, mode: 0o700 })
  const path = keyFilePath(home)
  if (existsSync(path)) return false
  return createKeyFileExclusive(path, newKeyText())
}

/**
 * Writes `text` to `path` (mode 0600) only when `path` does not exist yet; false when it did.
 * The key goes to a temp file first, is fsynced, then hard-linked into place: linking fails
 * when the target exists (so a concurrent run's key is never replaced, unlike rename) and
 * readers never see an empty or half-written key file after a crash.
 */
export function createKeyFileExclusive(path: string, text: string): boolean {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  writeSynced(tmp, text)
  try {
    linkSync(tmp, path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    // Some file systems (FAT, a few network mounts) have no hard links.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') {
      throw err
    }
    try {
      writeSynced(path, text)
    } catch (inner) {
      if ((inner as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw inner
    }
  } finally {
    rmSync(tmp, { force: true })
  }
  fsyncDir(dirname(path))
  return true
}

function writeSynced(path: string, text: string): void {
  const fd = openSync(path, 'wx', 0o600)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  // The umask can only remove bits, but a pre-existing ACL default could add some back.
  chmodSync(path, 0o600)
}

/** Makes a rename or link in `dir` durable; a no-op where directories cannot be fsynced. */
export function fsyncDir(dir: string): void {
  let fd: number
  try {
    fd = openSync(dir, 'r')
  } catch {
    return
  }
  try {
    fsyncSync(fd)
  } catch {
    // Windows and some file systems refuse fsync on a directory: nothing more can be done.
  } finally {
    closeSync(fd)
  }
}
