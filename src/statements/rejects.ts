import { csvTable } from '../core/csv.js'

/** A row `--skip-bad-rows` left out: where, why, and its text as read. */
export interface Reject {
  line: number
  column: number
  message: string
  raw: string
}

const REJECT_COLUMNS = [
  { name: 'line', kind: 'number' as const },
  { name: 'column', kind: 'number' as const },
  // The message and the row are always quoted (as the file has always been written); the row is
  // a statement's own text, so it is guarded like any text cell.
  { name: 'error', kind: 'text' as const, quote: 'always' as const },
  { name: 'row', kind: 'text' as const, quote: 'always' as const },
]

/** The rejects file: a header and one line per rejected row, through the one CSV writer. */
export const rejectsCsv = (rejects: readonly Reject[]): string =>
  csvTable(
    REJECT_COLUMNS,
    rejects.map((r) => [r.line, r.column, r.message, r.raw]),
  )
