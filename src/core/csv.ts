/**
 * The one CSV writer of dsh: every file or output in CSV goes through here (an architecture test
 * fails on CSV built anywhere else). Columns are typed:
 * - `text` cells that a spreadsheet would read as a formula (beginning with `=`, `+`, `-`, `@`,
 *   tab or carriage return) get a leading `'`, so `=HYPERLINK(…)` from a statement stays text;
 * - `number` cells (amounts, counts) are written as they are, `-1.00` stays a number. A value in
 *   a number column that is not a plain number (`-1.00`, `1,234.56`, `12`) is guarded as text:
 *   a column typed wrongly can never carry a formula out.
 * Quoting follows RFC 4180: a cell holding the separator, `"`, CR or LF is quoted, `"` doubled.
 */

export type CsvKind = 'text' | 'number'

export interface CsvColumn {
  name: string
  kind: CsvKind
  /** Quote every cell of the column (a layout that always does, e.g. M-Pesa's amounts). */
  quote?: 'always' | undefined
}

export type CsvValue = string | number | bigint | null | undefined

export interface CsvOptions {
  separator?: string | undefined
  /** Line ending (default `\n`); the last line ends with it too. */
  eol?: string | undefined
}

/** Starts a spreadsheet formula (OWASP's list: = + - @ tab CR). */
const FORMULA_START = /^[=+\-@\t\r]/
/** A plain number as dsh writes one: optional minus, digits (maybe grouped by `,`), decimals. */
const PLAIN_NUMBER = /^-?(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?$/

/** A text cell made safe for a spreadsheet: `=1+1` → `'=1+1`; anything else unchanged. */
export const guardText = (s: string): string => (FORMULA_START.test(s) ? `'${s}` : s)

/** Whether a cell is a plain number, written unguarded in a number column. */
export const isPlainNumber = (s: string): boolean => PLAIN_NUMBER.test(s)

const asString = (v: CsvValue): string => (v === null || v === undefined ? '' : String(v))

/**
 * One cell: guarded by its kind, then quoted per RFC 4180.
 *
 * @example csvCell('=1+1', 'text') // "'=1+1"
 * @example csvCell('-1.00', 'number') // "-1.00"
 */
export function csvCell(
  value: CsvValue,
  kind: CsvKind,
  opts: { separator?: string | undefined; quote?: 'always' | undefined } = {},
): string {
  const raw = asString(value)
  const s = kind === 'number' && isPlainNumber(raw) ? raw : guardText(raw)
  const sep = opts.separator ?? ','
  const needs = opts.quote === 'always' || s.includes(sep) || /["\r\n]/.test(s)
  return needs ? `"${s.replaceAll('"', '""')}"` : s
}

/** One record (without its line ending) of cells given with their kinds. */
export function csvRecord(
  cells: readonly { value: CsvValue; kind: CsvKind; quote?: 'always' | undefined }[],
  separator = ',',
): string {
  return cells.map((c) => csvCell(c.value, c.kind, { separator, quote: c.quote })).join(separator)
}

/** A text cell for csvRecord. */
export const text = (value: CsvValue) => ({ value, kind: 'text' as const })

/** A record writer for fixed columns: values in column order. */
export function csvRowWriter(
  columns: readonly CsvColumn[],
  opts: CsvOptions = {},
): (values: readonly CsvValue[]) => string {
  const separator = opts.separator ?? ','
  return (values) =>
    csvRecord(
      columns.map((c, i) => ({ value: values[i], kind: c.kind, quote: c.quote })),
      separator,
    )
}

/** The header record: the column names, as text cells. */
export const csvHeader = (columns: readonly CsvColumn[], separator = ','): string =>
  csvRecord(
    columns.map((c) => text(c.name)),
    separator,
  )

/** The header (column names, as text cells) and the rows, each line ended by `eol`. */
export function csvTable(
  columns: readonly CsvColumn[],
  rows: readonly (readonly CsvValue[])[],
  opts: CsvOptions = {},
): string {
  const separator = opts.separator ?? ','
  const eol = opts.eol ?? '\n'
  const row = csvRowWriter(columns, opts)
  return [csvHeader(columns, separator), ...rows.map(row)].map((l) => `${l}${eol}`).join('')
}

/** Columns from names and one kind each: `columns(['id', 'text'], ['amount', 'number'])`. */
export const columns = (...spec: readonly [string, CsvKind][]): CsvColumn[] =>
  spec.map(([name, kind]) => ({ name, kind }))
