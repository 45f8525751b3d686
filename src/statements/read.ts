import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'
import { CsvError, parse } from 'csv-parse'
import { type ByteBounds, ByteGuardError, byteGuard, locate } from './byte-guard.js'

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

/** Files the fast reader read to the end, and files it handed to csv-parse: read by tests only. */
export const fastReaderRuns = { whole: 0, handedOver: 0 }

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
  /** `csv-parse` reads with csv-parse only (tests compare the fast reader with it). */
  reader?: 'auto' | 'csv-parse'
  /** Line length, total size and text checks on the raw bytes (ByteGuardError), before parsing. */
  bounds?: ByteBounds
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
  // Bytes handed to onChunk so far (a re-read after the fast reader gave up hashes only the rest).
  let hashed = 0
  // A file is counted line by line only when a fault is found (locate reads it again); standard
  // input cannot be read again, so its lines are counted as they come.
  const guard = options.bounds
    ? byteGuard({ ...options.bounds, countLines: typeof source !== 'string' })
    : undefined
  /** A fault found without counting lines, placed at its line and column. */
  const placed = async (e: unknown) =>
    e instanceof ByteGuardError && e.line === 0 && typeof source === 'string'
      ? await locate(e, source)
      : e
  const onEnd = () => guard?.end()
  const onChunk = (c: Buffer) => {
    guard?.chunk(c)
    options.onChunk?.(c)
    hashed += c.length
  }
  try {
    while (size < PEEK) {
      const next = await it.next()
      if (next.done) {
        done = true
        onEnd()
        break
      }
      const c = typeof next.value === 'string' ? Buffer.from(next.value) : next.value
      onChunk(c)
      chunks.push(c)
      size += c.length
    }
  } catch (e) {
    // Refused in its first bytes (a bound, not text): the file is closed at once.
    if (typeof source === 'string') input.destroy()
    throw await placed(e)
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
  /** Where the CSV starts in the file's bytes. */
  const csvStart = (bom ? 3 : 0) + skipBytes
  async function* body(): AsyncGenerator<Buffer> {
    yield rest
    if (done) return
    for (;;) {
      const next = await it.next()
      if (next.done) {
        onEnd()
        return
      }
      const c = typeof next.value === 'string' ? Buffer.from(next.value) : next.value
      onChunk(c)
      yield c
    }
  }
  // The file again from where the CSV starts, hashing only what was not hashed yet (after the
  // fast reader gave up part-way).
  async function* reread(path: string): AsyncGenerator<Buffer> {
    let at = 0
    for await (const chunk of createReadStream(path)) {
      const c = chunk as Buffer
      const end = at + c.length
      if (end > hashed) onChunk(hashed > at ? c.subarray(hashed - at) : c)
      if (end > csvStart) yield csvStart > at ? c.subarray(csvStart - at) : c
      at = end
    }
    onEnd()
  }
  const fast =
    options.reader !== 'csv-parse' &&
    typeof source === 'string' &&
    options.separator.length === 1 &&
    !'"\r\n'.includes(options.separator) &&
    options.separator.charCodeAt(0) < 128
  async function* records(): AsyncGenerator<CsvRecord[]> {
    let lastLine = startLine
    let handed = 0
    const toBatch = (cells: readonly string[][], raws: readonly string[] | null) => {
      const batch: CsvRecord[] = []
      for (let r = 0; r < cells.length; r++) {
        const row = cells[r] as string[]
        lastLine++
        for (const c of row) {
          let at = c.indexOf('\n')
          while (at >= 0) {
            lastLine++
            at = c.indexOf('\n', at + 1)
          }
        }
        if (row.length === 1 && row[0] === '') continue
        batch.push({ line: lastLine, cells: row, raw: raws ? (raws[r] as string) : '' })
      }
      return batch
    }
    try {
      let feed: AsyncIterable<Buffer> = body()
      if (fast) {
        try {
          const tokens = tokenizer(
            options.separator.charCodeAt(0),
            options.raw === true,
            options.bounds?.maxLineBytes ?? Number.POSITIVE_INFINITY,
          )
          const decoder = enc === 'latin1' ? undefined : new StringDecoder('utf8')
          const take = (text: string, final: boolean) => {
            // A byte that is not UTF-8 is left to csv-parse (it decodes cell by cell).
            if (decoder && text.includes('\ufffd')) throw new NotSimple()
            const out = tokens(text, final)
            handed += out.cells.length
            const batch = toBatch(out.cells, out.raws)
            if (out.overflow) throw recordTooLong(lastLine + 1, options.bounds?.maxLineBytes ?? 0)
            return batch
          }
          for await (const c of feed) {
            const batch = take(decoder ? decoder.write(c) : c.toString('latin1'), false)
            if (batch.length > 0) yield batch
          }
          const batch = take(decoder ? decoder.end() : '', true)
          if (batch.length > 0) yield batch
          fastReaderRuns.whole++
          return
        } catch (e) {
          if (!(e instanceof NotSimple)) throw e
          fastReaderRuns.handedOver++
          // csv-parse reads the file again from its start (same records up to here), its
          // first `handed` records skipped: it names what is wrong exactly.
          input.destroy()
          feed = reread(source as string)
        }
      }
      yield* csvParse(feed, options, enc, typeof source !== 'string', handed, toBatch)
    } catch (e) {
      if (e instanceof ByteGuardError) throw await placed(e)
      if (e instanceof CsvError && e.code === 'CSV_MAX_RECORD_SIZE')
        throw recordTooLong(lastLine + 1, options.bounds?.maxLineBytes ?? 0)
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

/** csv-parse over `feed` (the bytes from where the CSV starts), its first `skip` records left out. */
async function* csvParse(
  feed: AsyncIterable<Buffer>,
  options: ReadOptions,
  enc: 'utf8' | 'latin1',
  stdin: boolean,
  skip: number,
  toBatch: (cells: readonly string[][], raws: readonly string[] | null) => CsvRecord[],
): AsyncGenerator<CsvRecord[]> {
  // No `info` (an object of counters per record): the line a record ends on is counted by
  // toBatch, one per record plus the line breaks inside its quoted cells. Empty lines come
  // through as one empty cell, so they are counted too, and skipped.
  const parser = parse({
    delimiter: options.separator,
    encoding: enc,
    relax_column_count: true,
    // The same bound as the fast reader's (csv-parse counts characters).
    ...(options.bounds ? { max_record_size: options.bounds.maxLineBytes } : {}),
    skip_empty_lines: false,
    // Standard input cannot be read twice: keep the raw text to place an unclosed quote.
    raw: options.raw === true || stdin,
  })
  const source = Readable.from(feed)
  source.on('error', (e: Error) => parser.destroy(e))
  source.pipe(parser)
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
  let skipped = 0
  try {
    for (;;) {
      const cells: string[][] = []
      const raws: string[] = []
      for (;;) {
        const rec = parser.read() as string[] | { record: string[]; raw: string } | null
        if (rec === null) break
        if (skipped < skip) {
          skipped++
          continue
        }
        if (Array.isArray(rec)) cells.push(rec)
        else {
          cells.push(rec.record)
          raws.push(rec.raw.replace(/\r?\n$/, ''))
        }
      }
      const batch = toBatch(cells, raws.length === cells.length && raws.length > 0 ? raws : null)
      if (batch.length > 0) yield batch
      if (failure !== undefined) throw failure
      if (ended) return
      if (!signalled) await new Promise<void>((r) => (wake = r))
      signalled = false
    }
  } finally {
    source.destroy()
  }
}

/** The fast reader met something it does not read exactly as csv-parse does. */
class NotSimple extends Error {}

const recordTooLong = (line: number, max: number) =>
  new CsvReadError(
    line,
    1,
    `a record is longer than ${max} bytes (the profile's maxLineBytes): a quote that never closes?`,
  )

const QUOTE = 34
const CR = 13
const LF = 10

/**
 * A CSV reader for the plain case, cell for cell what csv-parse gives with the options above
 * (about five times faster): quoted cells (`""` inside) with separators and line breaks, records
 * ending in CRLF or LF (the first line break outside quotes decides, as csv-parse's discovery
 * does), an empty line as one empty cell. Anything else (a lone CR, the other line ending
 * outside quotes, a quote inside an unquoted cell or text after a closing quote, an unclosed
 * quote) throws NotSimple, and csv-parse reads the file instead and names the fault. Fed the
 * decoded text piece by piece; an unfinished record waits for the next piece.
 */
function tokenizer(sep: number, keepRaw: boolean, maxRecord: number) {
  let mode = 0 // 0: not known yet, CR: CRLF, LF: LF
  let carry = ''
  return (
    piece: string,
    final: boolean,
  ): { cells: string[][]; raws: string[] | null; overflow: boolean } => {
    const s = carry === '' ? piece : carry + piece
    const n = s.length
    const cells: string[][] = []
    const raws: string[] | null = keepRaw ? [] : null
    let i = 0
    let from = 0
    record: while (i < n) {
      from = i
      const row: string[] = []
      for (;;) {
        if (i < n && s.charCodeAt(i) === QUOTE) {
          let value = ''
          let seg = i + 1
          let j = seg
          for (;;) {
            const q = s.indexOf('"', j)
            if (q < 0) {
              if (final) throw new NotSimple()
              break record
            }
            if (q + 1 >= n && !final) break record
            if (q + 1 < n && s.charCodeAt(q + 1) === QUOTE) {
              value += s.slice(seg, q + 1)
              j = q + 2
              seg = j
              continue
            }
            value += s.slice(seg, q)
            i = q + 1
            break
          }
          row.push(value)
        } else {
          let j = i
          while (j < n) {
            const c = s.charCodeAt(j)
            if (c === sep || c === CR || c === LF) break
            if (c === QUOTE) throw new NotSimple()
            j++
          }
          if (j >= n && !final) break record
          row.push(s.slice(i, j))
          i = j
        }
        if (i >= n) {
          if (!final) break record
          cells.push(row)
          raws?.push(s.slice(from, n))
          from = n
          break record
        }
        const c = s.charCodeAt(i)
        if (c === sep) {
          i++
          continue
        }
        let end = i
        if (c === CR) {
          if (i + 1 >= n) {
            if (!final) break record
            throw new NotSimple()
          }
          if (s.charCodeAt(i + 1) !== LF) throw new NotSimple()
          if (mode === 0) mode = CR
          else if (mode !== CR) throw new NotSimple()
          // csv-parse's raw text of a CRLF record keeps the CR (and the import strips only LF).
          end = i + 1
          i += 2
        } else if (c === LF) {
          if (mode === 0) mode = LF
          else if (mode !== LF) throw new NotSimple()
          end = i
          i++
        } else throw new NotSimple()
        cells.push(row)
        raws?.push(s.slice(from, end))
        from = i
        continue record
      }
    }
    carry = from < n ? s.slice(from) : ''
    // An unfinished record is carried into the next piece: bounded, so a quote that never closes
    // costs linear time (else each piece would copy and rescan all of it).
    const overflow = carry.length > maxRecord
    if (final && carry !== '' && !overflow) throw new NotSimple()
    return { cells, raws, overflow }
  }
}
