import { closeSync, openSync, readSync } from 'node:fs'

/** Secret, key and rules files are small; anything larger is a mistake (or /dev/zero). */
export const FILE_LIMIT = 64 * 1024

export class FileTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`larger than ${limit / 1024} KiB`)
    this.name = 'FileTooLargeError'
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4))

/**
 * Reads a file (or standard input, fd 0) as UTF-8, refusing it as soon as it passes `limit`
 * bytes: a device that never ends is never read into memory. Errno errors are thrown as is.
 */
export function readLimited(source: string | 0, limit = FILE_LIMIT): string {
  const fd = source === 0 ? 0 : openSync(source, 'r')
  const chunks: Buffer[] = []
  let total = 0
  try {
    for (;;) {
      const buf = Buffer.alloc(Math.min(16 * 1024, limit + 1 - total))
      let n: number
      try {
        n = readSync(fd, buf, 0, buf.length, null)
      } catch (err) {
        // A non-blocking standard input with nothing yet: wait a moment and read again.
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          Atomics.wait(pause, 0, 0, 10)
          continue
        }
        throw err
      }
      if (n === 0) break
      total += n
      if (total > limit) throw new FileTooLargeError(limit)
      chunks.push(buf.subarray(0, n))
    }
  } finally {
    if (source !== 0) closeSync(fd)
  }
  return Buffer.concat(chunks).toString('utf8')
}
