import { isUtf8 } from 'node:buffer'
import { createReadStream } from 'node:fs'

/**
 * A statement's bytes broke a bound or are not text: where (1-based line and column; 0 until
 * placed, see locate), the byte offset of the fault, and why.
 */
export class ByteGuardError extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    message: string,
    readonly offset = 0,
  ) {
    super(message)
  }
}

export interface ByteBounds {
  /** A line (its bytes up to the line feed) longer than this is refused. */
  maxLineBytes: number
  /** More bytes than this in all are refused (a file's size is checked before it is opened). */
  maxBytes: number
  /** Check the bytes are UTF-8 (a latin1 file is any bytes). NUL is refused either way. */
  utf8: boolean
  /**
   * Count lines while reading, to name a fault's line at once (standard input, which cannot be
   * read again). Without, a fault carries its byte offset and `locate` reads the file again up
   * to it: the fast path then costs two scans per chunk, not one step per line.
   */
  countLines?: boolean
}

const LF = 10

/**
 * Sees every raw chunk of a statement once, in order, before it is parsed: a line longer than
 * maxLineBytes, more than maxBytes in all, a NUL byte or (utf8) a byte sequence that is not UTF-8
 * throws ByteGuardError at its line and column. Linear, and on the fast path a few native scans
 * per chunk (memchr for line feeds and NUL, simdutf for UTF-8), so a 100 MB line is refused
 * after maxLineBytes and never buffered.
 */
export function byteGuard(bounds: ByteBounds): { chunk(c: Buffer): void; end(): void } {
  const eager = bounds.countLines !== false
  let total = 0
  /** Bytes before the chunk being checked. */
  let before = 0
  /** Bytes of the current line before this chunk. */
  let run = 0
  /** 1-based number of the current line. */
  let line = 1
  /** The current line's bytes before this chunk (at most maxLineBytes), to place a column. */
  let lineHead: Buffer = Buffer.alloc(0)
  /** The end of the previous chunk when it stopped inside a UTF-8 sequence. */
  let pending: Buffer = Buffer.alloc(0)

  /** The fault at byte `at` of `chunk`, placed now when lines are counted, else by its offset. */
  function fault(chunk: Buffer, at: number, message: string): never {
    if (!eager) throw new ByteGuardError(0, 0, message, before + at)
    const p = place(chunk, at)
    throw new ByteGuardError(p.line, p.column, message, before + at)
  }

  /** Line and column of byte `at` of `chunk` (a rare, slow path: only to report a fault). */
  function place(chunk: Buffer, at: number): { line: number; column: number } {
    let l = line
    let start = -1
    for (let i = chunk.indexOf(LF); i >= 0 && i < at; i = chunk.indexOf(LF, i + 1)) {
      l++
      start = i
    }
    const before =
      start >= 0 ? chunk.subarray(start + 1, at) : Buffer.concat([lineHead, chunk.subarray(0, at)])
    return { line: l, column: before.toString('utf8').length + 1 }
  }

  function checkText(chunk: Buffer): void {
    const nul = chunk.indexOf(0)
    if (nul >= 0) fault(chunk, nul, 'a NUL character (byte 0x00): this is no text file')
    if (!bounds.utf8) return
    let text = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk
    const shift = pending.length
    // A sequence cut by the chunk's end waits for the next chunk (at most 3 bytes).
    let cut = text.length
    for (let back = 1; back <= 3 && back <= text.length; back++) {
      const b = text[text.length - back] as number
      if ((b & 0xc0) === 0x80) continue
      if (b >= 0xc2 && b <= 0xf4 && back < (b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2))
        cut = text.length - back
      break
    }
    pending = Buffer.from(text.subarray(cut))
    text = text.subarray(0, cut)
    if (isUtf8(text)) return
    const bad = firstInvalid(text)
    fault(
      chunk,
      Math.max(0, bad - shift),
      `not UTF-8 (byte 0x${(text[bad] ?? 0).toString(16).padStart(2, '0')}): save the file as UTF-8, or give the profile "encoding": "latin1"`,
    )
  }

  function checkLines(chunk: Buffer): void {
    const max = bounds.maxLineBytes
    // Not counting lines, line feeds in a chunk no longer than the limit are at most that far
    // apart: the first and the last decide.
    if (!eager && chunk.length <= max) {
      const first = chunk.indexOf(LF)
      if (run + (first < 0 ? chunk.length : first) > max) tooLong()
      run = first < 0 ? run + chunk.length : chunk.length - chunk.lastIndexOf(LF) - 1
      return
    }
    let from = 0
    for (let lf = chunk.indexOf(LF); lf >= 0; lf = chunk.indexOf(LF, from)) {
      if (run + lf - from > max) tooLong(from)
      line++
      run = 0
      from = lf + 1
    }
    if (run + chunk.length - from > max) tooLong(from)
    if (eager) lineHead = from > 0 ? Buffer.from(chunk.subarray(from)) : keepHead(lineHead, chunk)
    run += chunk.length - from
  }

  /** The line starting `run` bytes before byte `from` of the chunk is too long. */
  function tooLong(from = 0): never {
    throw new ByteGuardError(
      eager ? line : 0,
      eager ? 1 : 0,
      `the line is longer than ${bounds.maxLineBytes} bytes (the profile's maxLineBytes): is this the right file and profile?`,
      before + from - run,
    )
  }

  return {
    chunk(chunk) {
      before = total
      total += chunk.length
      if (total > bounds.maxBytes)
        // No need to place it (a file's size is checked before; this is standard input).
        throw new ByteGuardError(
          eager ? line : 1,
          1,
          `more than ${bounds.maxBytes} bytes (--max-bytes): refused before reading further`,
          bounds.maxBytes,
        )
      checkText(chunk)
      checkLines(chunk)
    },
    /** The input ended: a UTF-8 sequence still open there is cut short. */
    end() {
      if (pending.length === 0) return
      const message = `not UTF-8 (byte 0x${(pending[0] ?? 0).toString(16).padStart(2, '0')} at the end of the file, its sequence cut short)`
      if (!eager) throw new ByteGuardError(0, 0, message, total - pending.length)
      // The open sequence is the end of the last line (already counted in lineHead).
      const head = lineHead.subarray(0, Math.max(0, lineHead.length - pending.length))
      throw new ByteGuardError(
        line,
        head.toString('utf8').length + 1,
        message,
        total - pending.length,
      )
    },
  }
}

/** The current line's bytes so far (kept only to place a column in an error). */
function keepHead(head: Buffer, more: Buffer): Buffer {
  return head.length === 0 ? Buffer.from(more) : Buffer.concat([head, more])
}

/** The offset of the first byte that does not start or continue a valid UTF-8 sequence. */
function firstInvalid(b: Buffer): number {
  let i = 0
  while (i < b.length) {
    const c = b[i] as number
    const n =
      c < 0x80
        ? 1
        : c >= 0xc2 && c <= 0xdf
          ? 2
          : c >= 0xe0 && c <= 0xef
            ? 3
            : c >= 0xf0 && c <= 0xf4
              ? 4
              : 0
    if (n === 0) return i
    if (n > 1 && !isUtf8(b.subarray(i, i + n))) return i
    i += n
  }
  return b.length
}

/**
 * Places a fault found without counting lines: reads `path` again up to byte `offset` and gives
 * its 1-based line and column (characters of the line before it). Only on the way to an error.
 */
export async function locate(e: ByteGuardError, path: string): Promise<ByteGuardError> {
  let line = 1
  let tail: Buffer[] = []
  if (e.offset > 0)
    for await (const chunk of createReadStream(path, { end: e.offset - 1 })) {
      const c = chunk as Buffer
      let from = 0
      for (let lf = c.indexOf(LF); lf >= 0; lf = c.indexOf(LF, from)) {
        line++
        from = lf + 1
        tail = []
      }
      tail.push(Buffer.from(c.subarray(from)))
    }
  const column = Buffer.concat(tail).toString('utf8').length + 1
  return new ByteGuardError(line, column, e.message, e.offset)
}
