import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { validationError } from '../core/errors.js'

/** What `--max-bytes` is unless given: a statement larger than 2 GiB is no statement. */
export const DEFAULT_MAX_BYTES = 2 * 1024 ** 3

/** `--max-bytes` as a number of bytes (a whole number, optionally with KiB/MiB/GiB). */
export function parseMaxBytes(text: string | undefined): number {
  if (text === undefined) return DEFAULT_MAX_BYTES
  const m = /^(\d{1,13})\s*(|B|KiB|MiB|GiB)$/i.exec(text.trim())
  const unit = { '': 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 }[
    (m?.[2] ?? '').toLowerCase()
  ]
  const n = m && unit ? Number(m[1]) * unit : Number.NaN
  if (!Number.isSafeInteger(n) || n < 1)
    throw validationError(
      'invalid_max_bytes',
      `--max-bytes "${text}" is not a size`,
      'a whole number of bytes, or with KiB, MiB or GiB (e.g. 512MiB)',
    )
  return n
}

/**
 * Refuses, before a byte is read, a statement path that is not a regular file (a directory, a
 * device such as /dev/zero, a FIFO or socket: through a symlink too) or is larger than `maxBytes`.
 * Opened without blocking (a FIFO would wait for a writer) and checked on the descriptor.
 */
export function checkStatementFile(path: string, maxBytes: number): void {
  let st: Stats
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
    try {
      st = fstatSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch (e) {
    throw validationError(
      'statement_unreadable',
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    )
  }
  if (!st.isFile())
    throw validationError(
      'not_a_file',
      `${path} is ${kindOf(st)}, not a regular file`,
      'give a statement file, or - for standard input',
    )
  if (st.size > maxBytes)
    throw validationError(
      'statement_too_large',
      `${path} is ${st.size} bytes, more than --max-bytes ${maxBytes}`,
      'is this the right file? raise --max-bytes if it is',
    )
}

const kindOf = (st: Stats) =>
  st.isDirectory()
    ? 'a directory'
    : st.isCharacterDevice() || st.isBlockDevice()
      ? 'a device'
      : st.isFIFO()
        ? 'a FIFO (named pipe)'
        : st.isSocket()
          ? 'a socket'
          : 'not a file'

/** The rejects file of `--skip-bad-rows`, claimed before the import starts. */
export interface RejectsFile {
  /** Writes the whole content (once, after the import): the file then holds exactly this. */
  write(text: string): void
  /** The import failed: a file this run created is removed; a replaced one is left as it was. */
  discard(): void
}

/**
 * Claims `path` for the rows an import cannot read: created exclusively (an existing file is
 * refused unless `force`), never through a symbolic link, never the statement itself. With
 * `force` the content replaces the old file at the end by a rename (which replaces a link or
 * file there, never writes through it); without, the name is taken now with O_EXCL|O_NOFOLLOW.
 * Mode 0600: rejected rows are statement data.
 */
export function claimRejectsFile(path: string, input: string, force: boolean): RejectsFile {
  const here = lstatOrUndefined(path)
  if (input !== '-' && sameFile(path, input))
    throw validationError(
      'rejects_is_input',
      `--skip-bad-rows ${path} is the statement being imported`,
      'write the rejects to another file',
    )
  if (here?.isSymbolicLink())
    throw validationError(
      'rejects_is_symlink',
      `--skip-bad-rows ${path} is a symbolic link; dsh does not write through links`,
      'give the real path, or remove the link',
    )
  if (here && !here.isFile())
    throw validationError('rejects_not_a_file', `--skip-bad-rows ${path} is not a regular file`)
  if (here && !force)
    throw validationError(
      'rejects_exists',
      `--skip-bad-rows ${path} already exists`,
      'give a new file name, or --force to replace it',
    )
  if (!here) {
    let fd: number
    try {
      fd = openSync(
        path,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      )
    } catch (e) {
      throw validationError(
        'rejects_unwritable',
        `cannot create --skip-bad-rows ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      )
    }
    let open = true
    const close = () => {
      if (open) closeSync(fd)
      open = false
    }
    return {
      write(text) {
        writeAll(fd, text)
        close()
      },
      discard() {
        close()
        unlinkSync(path)
      },
    }
  }
  return {
    write(text) {
      const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`)
      const fd = openSync(
        temp,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      )
      try {
        writeAll(fd, text)
      } finally {
        closeSync(fd)
      }
      renameSync(temp, path)
    },
    discard() {},
  }
}

function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8')
  let at = 0
  while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at)
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path)
  } catch {
    return undefined
  }
}

/** The same file: the same path, or (through links) the same device and inode. */
function sameFile(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true
  try {
    const x = statSync(a)
    const y = statSync(b)
    return x.dev === y.dev && x.ino === y.ino
  } catch {
    return false
  }
}
