import { createReadStream } from 'node:fs'
import type { Readable } from 'node:stream'
import { CsvError, parse } from 'csv-parse'

/** One record of a CSV file: its cells as strings, the line it ends on, and its raw text. */
export interface CsvRecord {
  line: number
  cells: string[]
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
}

/**
 * Streams the records of a CSV file (or stdin), never holding the whole file: a UTF-8 BOM is
 * dropped, CRLF and LF both end records, quoted separators and newlines are kept, and rows may
 * have any number of cells (the caller checks them against the header).
 */
export async function* readCsv(
  source: string | Readable,
  options: ReadOptions,
): AsyncGenerator<CsvRecord> {
  const input = typeof source === 'string' ? createReadStream(source) : source
  const parser = parse({
    delimiter: options.separator,
    bom: true,
    encoding: options.encoding === 'latin1' ? 'latin1' : 'utf8',
    relax_column_count: true,
    skip_empty_lines: true,
    info: true,
    raw: true,
  })
  input.on('error', (e: Error) => parser.destroy(e))
  if (options.onChunk) {
    const onChunk = options.onChunk
    input.on('data', (c: Buffer | string) => onChunk(typeof c === 'string' ? Buffer.from(c) : c))
  }
  input.pipe(parser)
  let lastLine = 0
  try {
    for await (const rec of parser as AsyncIterable<{
      record: string[]
      info: { lines: number }
      raw: string
    }>) {
      lastLine = rec.info.lines
      yield { line: rec.info.lines, cells: rec.record, raw: rec.raw.replace(/\r?\n$/, '') }
    }
  } catch (e) {
    if (e instanceof CsvError) {
      const info = e as unknown as { lines?: number; column?: number }
      const line = e.code === 'CSV_QUOTE_NOT_CLOSED' ? lastLine + 1 : (info.lines ?? lastLine + 1)
      const column = typeof info.column === 'number' ? info.column + 1 : 1
      throw new CsvReadError(
        line,
        column,
        e.message.replace(/ at line \d+$/, '').replace(/ on line \d+$/, ''),
      )
    }
    throw e
  } finally {
    if (typeof source === 'string') input.destroy()
  }
}
