import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import { CsvError, parse } from 'csv-parse'

/** One record of a CSV file: its cells as strings, the line it ends on, and its raw text. */
export interface CsvRecord {
  line: number
  cells: string[]
  /** The record as written (empty unless ReadOptions.raw). */
  raw: string
}

/** A CSV file that cannot be read as CSV at all (unclosed quote): where, and what went wrong. */
export class CsvReadError extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    message: string,
  ) {
    super(message)
  }
}

export interface ReadOptions {
  separator: string
  encoding: 'utf-8' | 'latin1'
  /** Called with every chunk of the raw bytes (to hash the file while it streams). */
  onChunk?: (chunk: Buffer) => void
  /**
   * Given the first lines of the file (up to 64 KiB, BOM removed), the 0-based index of the line
   * where the CSV starts (the header, or the first data row); the lines before are the preamble.
   */
  start?: (lines: readonly string[]) => number
  /** Keep each record's raw text (a copy of every line: only when it is needed). */
  raw?: boolean
}

export interface CsvFile {
  /** The lines before the CSV starts (organisation, period, ...), empty ones left out. */
  preamble: string[]
  /** The records in file order, in batches (as many as the parser has ready). */
  records: AsyncGenerator<CsvRecord[]>
}

const PEEK = 64 * 1024

/**
 * Opens a CSV file (or stdin) as a stream of records, never holding the whole file: a UTF-8 BOM
 * is dropped, CRLF and LF both end records, quoted separators and newlines are kept, and rows may
 * have any number of cells (the caller checks them against the header). Lines before `start`
 * (a preamble of a different width) are returned as text, not parsed.
 */
export async function openCsv(source: string | Readable, options: ReadOptions): Promise<CsvFile> {
  const input = typeof source === 'string' ? createReadStream(source) : source
  const it = (input as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]()
  const chunks: Buffer[] = []
  let size = 0
  let done = false
  while (size < PEEK) {
    const next = await it.next()
    if (next.done) {
      done = true
      break
    }
    const c = typeof next.value === 'string' ? Buffer.from(next.value) : next.value
    options.onChunk?.(c)
    chunks.push(c)
    size += c.length
  }
  let head = Buffer.concat(chunks)
  const bom = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf
  if (bom) head = head.subarray(3)
  const enc = options.encoding === 'latin1' ? 'latin1' : 'utf8'
  const text = head.toString(enc)
  // Only whole lines count (the peek may end mid-line).
  const lines = text.split('\n')
  if (!done) lines.pop()
  const startLine = Math.max(
    0,
    Math.min(options.start?.(lines.map((l) => l.replace(/\r$/, ''))) ?? 0, lines.length),
  )
  const preamble = lines
    .slice(0, startLine)
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '')
  const skipChars = lines.slice(0, startLine).reduce((n, l) => n + l.length + 1, 0)
  const skipBytes =
    enc === 'latin1' ? skipChars : Buffer.byteLength(text.slice(0, skipChars), 'utf8')
  const rest = head.subarray(skipBytes)
  async function* body() {
    yield rest
    if (done) return
    for (;;) {
      const next = await it.next()
      if (next.done) return
      const c = typeof next.value === 'string' ? Buffer.from(next.value) : next.value
      options.onChunk?.(c)
      yield c
    }
  }
  // No `info` (an object of counters per record): the line a record ends on is counted here,
  // one per record plus the line breaks inside its quoted cells. Empty lines come through as
  // one empty cell, so they are counted too, and skipped.
  const parser = parse({
    delimiter: options.separator,
    encoding: enc,
    relax_column_count: true,
    skip_empty_lines: false,
    // Standard input cannot be read twice: keep the raw text to place an unclosed quote.
    raw: options.raw === true || typeof source !== 'string',
  })
  const feed = Readable.from(body())
  feed.on('error', (e: Error) => parser.destroy(e))
  feed.pipe(parser)
  let signalled = false
  let wake: (() => void) | undefined
  let failure: unknown
  let ended = false
  const signal = () => {
    signalled = true
    const w = wake
    wake = undefined
    w?.()
  }
  parser.on('readable', signal)
  parser.on('end', () => {
    ended = true
    signal()
  })
  parser.on('error', (e) => {
    failure = e
    signal()
  })
  async function* records(): AsyncGenerator<CsvRecord[]> {
    let lastLine = startLine
    try {
      for (;;) {
        const batch: CsvRecord[] = []
        for (;;) {
          const rec = parser.read() as string[] | { record: string[]; raw: string } | null
          if (rec === null) break
          const cells = Array.isArray(rec) ? rec : rec.record
          lastLine++
          for (const c of cells) {
            let at = c.indexOf('\n')
            while (at >= 0) {
              lastLine++
              at = c.indexOf('\n', at + 1)
            }
          }
          if (cells.length === 1 && cells[0] === '') continue
          batch.push({
            line: lastLine,
            cells,
            raw: Array.isArray(rec) ? '' : rec.raw.replace(/\r?\n$/, ''),
          })
        }
        if (batch.length > 0) yield batch
        if (failure !== undefined) throw failure
        if (ended) return
        if (!signalled) await new Promise<void>((r) => (wake = r))
        signalled = false
      }
    } catch (e) {
      if (e instanceof CsvError) {
        const info = e as unknown as { lines?: number; column?: number; raw?: string }
        // Where the unclosed quote opened needs the record's raw text: read the file again
        // keeping it (only on this error).
        if (
          e.code === 'CSV_QUOTE_NOT_CLOSED' &&
          info.raw === undefined &&
          typeof source === 'string'
        ) {
          const again = await openCsv(source, { ...options, onChunk: () => {}, raw: true })
          for await (const _ of again.records);
        }
        // An unclosed quote is found at the end of the file: the record began as many lines
        // before as its raw text has line breaks.
        const raw = info.raw ?? ''
        const breaks = raw.split('\n').length - 1 - (raw.endsWith('\n') ? 1 : 0)
        const line =
          info.lines === undefined
            ? lastLine + 1
            : e.code === 'CSV_QUOTE_NOT_CLOSED'
              ? info.lines - breaks + startLine
              : info.lines + startLine
        const column = typeof info.column === 'number' ? info.column + 1 : 1
        throw new CsvReadError(line, column, e.message.replace(/ (at|on) line \d+$/, ''))
      }
      throw e
    } finally {
      if (typeof source === 'string') input.destroy()
    }
  }
  return { preamble, records: records() }
}
