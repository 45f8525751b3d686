import { randomBytes } from 'node:crypto'
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'

export const KEY_FILE = 'master.key'

export const keyFilePath = (home: string) => join(home, KEY_FILE)

/**
 * Creates `$DSH_HOME/master.key` (base64 of 32 random bytes, mode 0600) unless it exists.
 * Created exclusively, so two `dsh init` runs at once never overwrite each other's key.
 * Returns true when a key was made now.
 */
export function ensureKeyFile(home: string): boolean {
  mkdirSync(home, { recursive: true, mode: 0o700 })
  const path = keyFilePath(home)
  if (existsSync(path)) return false
  let fd: number
  try {
    fd = openSync(path, 'wx', 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
  try {
    writeSync(fd, `${randomBytes(32).toString('base64')}\n`)
  } finally {
    closeSync(fd)
  }
  chmodSync(path, 0o600)
  return true
}
