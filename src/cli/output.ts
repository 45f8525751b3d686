import { clipEchoes } from '../core/clip.js'
import type { DshError } from '../core/errors.js'
import { maskUrlsIn } from '../core/url-mask.js'
import { toJson } from './json.js'
import type { GlobalOptions, Runtime } from './runtime.js'

/** A column of a table: a plain header string, or one with hints for narrow terminals. */
export interface Column {
  header: string
  /** Right-aligned (money, counts); detected from the cells when not given. */
  align?: 'left' | 'right' | undefined
  /**
   * How much the column matters on a narrow terminal: the lowest is dropped first. Default: the
   * first column 100 (kept), status and money 80, others 50 minus their position.
   */
  priority?: number | undefined
  /** Long text may be cut with … on a narrow terminal (default: text columns but the first). */
  truncate?: boolean | undefined
}

export interface TableOptions {
  /** Lines under the rows, aligned with them (e.g. a money total), never dropped by fitting. */
  totals?: (string | number)[][] | undefined
  /** Print the header line (default true; later pages of a streamed list pass false). */
  header?: boolean | undefined
}

export interface Output {
  readonly json: boolean
  /** Prints the command's result: one JSON document with --json, else the human text. */
  result(data: unknown, human: () => string): void
  /** A diagnostic line on stderr (never stdout). */
  warn(message: string): void
  info(message: string): void
  /** Human text for stdout as it is (a page of a list, a streamed line), controls shown as `?`. */
  print(text: string): void
  /**
   * One table style for every command: a header line, no rules, money and counts right-aligned,
   * status coloured on a colour terminal, fitted to the terminal's width (long text cut with …,
   * the least important columns dropped first; `--wide` keeps all). Piped: never cut or coloured.
   */
  table(head: (string | Column)[], rows: (string | number)[][], options?: TableOptions): string
  /** Two-column key/value block for `show` commands. */
  fields(pairs: [string, string | number | undefined][]): string
  error(err: DshError, verbose: boolean): void
}

const GAP = 2
const MONEY = /^-?([A-Z]{3} )?-?[\d,]+(\.\d+)?( [A-Z]{3})?$/
const STATUS_HEADERS = new Set(['status', 'breaker', 'state', 'outcome', 'enabled'])
const GOOD = new Set([
  'succeeded',
  'applied',
  'ok',
  'closed',
  'yes',
  'active',
  'matched',
  'settled',
])
const BAD = new Set([
  'failed',
  'rejected',
  'invalid',
  'open',
  'no',
  'orphaned',
  'cancelled',
  'disabled',
  'unmatched',
  'revoked',
  'error',
])
const WARN = new Set([
  'pending',
  'unknown',
  'review',
  'needs_review',
  'half-open',
  'half_open',
  'processing',
  'received',
  'created',
])

/**
 * Characters a terminal acts on instead of showing: C0 controls (ESC starts the sequences that
 * retitle a window, move the cursor or clear the screen), DEL, C1 controls, and the bidirectional
 * overrides that reorder what is shown (an amount or a name read backwards). Names come from the
 * store, statements and API callers: every one of them is shown with these as `?`.
 */
const UNSAFE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are what it finds
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g
/** The same, but line breaks and tabs kept (free text of several lines). */
const UNSAFE_INLINE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are what it finds
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g
/** The colour sequences this layer writes itself (and nothing else with an ESC in it). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts them
const OWN_SGR = /\u001b\[(?:1|22|31|32|33|39)m/g

/**
 * `text` safe for a terminal: every control character shown as `?` (`cell`: line breaks and tabs
 * too, so a table keeps its shape). JSON output needs none of this: JSON escapes them.
 */
export function printable(text: string, cell = false): string {
  const re = cell ? UNSAFE : UNSAFE_INLINE
  re.lastIndex = 0
  return re.test(text) ? text.replace(re, '?') : text
}

/** Human text for stdout: controls as `?`, except this layer's own colours when colour is on. */
function printableText(text: string, colour: boolean): string {
  if (!colour || !text.includes('\u001b')) return printable(text)
  let out = ''
  let from = 0
  OWN_SGR.lastIndex = 0
  for (let m = OWN_SGR.exec(text); m; m = OWN_SGR.exec(text)) {
    out += printable(text.slice(from, m.index)) + m[0]
    from = m.index + m[0].length
  }
  return out + printable(text.slice(from))
}

const colourOf = (value: string): string | undefined =>
  GOOD.has(value) ? '32' : BAD.has(value) ? '31' : WARN.has(value) ? '33' : undefined

/** Cuts text to `width` characters, ending in … when cut. */
export function truncate(text: string, width: number): string {
  const chars = [...text]
  if (chars.length <= width) return text
  return width <= 1 ? '…'.slice(0, width) : `${chars.slice(0, width - 1).join('')}…`
}

const visible = (text: string) => [...text].length

interface Plan {
  index: number
  header: string
  align: 'left' | 'right'
  priority: number
  truncate: boolean
  width: number
  status: boolean
}

/** Renders a table; `columns` is the terminal width to fit (undefined: no fitting). */
export function renderTable(
  head: (string | Column)[],
  rows: (string | number)[][],
  options: TableOptions & { columns?: number | undefined; color?: boolean | undefined } = {},
): string {
  const cells = rows.map((r) => r.map((c) => printable(String(c ?? ''), true)))
  const totals = (options.totals ?? []).map((r) => r.map((c) => printable(String(c ?? ''), true)))
  const all = [...cells, ...totals]
  const plans: Plan[] = head.map((h, index) => {
    const given: Column = typeof h === 'string' ? { header: h } : h
    const col: Column = { ...given, header: printable(given.header, true) }
    const values = cells.map((r) => r[index] ?? '').filter((v) => v !== '')
    const numeric = values.length > 0 && values.every((v) => MONEY.test(v))
    const status = STATUS_HEADERS.has(col.header.toLowerCase())
    const align = col.align ?? (numeric ? 'right' : 'left')
    return {
      index,
      header: col.header,
      align,
      status,
      priority: col.priority ?? (index === 0 ? 100 : status || align === 'right' ? 80 : 50 - index),
      truncate: col.truncate ?? (index > 0 && align === 'left' && !status),
      width: Math.max(visible(col.header), ...all.map((r) => visible(r[index] ?? ''))),
    }
  })
  let shown = plans
  const limit = options.columns
  if (limit !== undefined && limit > 0) {
    const total = (ps: Plan[]) => ps.reduce((n, p) => n + p.width, 0) + GAP * (ps.length - 1)
    // 1. Cut long text to 24 characters; 2. drop the least important columns; 3. cut text more.
    for (const p of shown)
      if (p.truncate && total(shown) > limit)
        p.width = Math.min(p.width, Math.max(24, visible(p.header)))
    const byPriority = [...shown].sort((a, b) => a.priority - b.priority || b.index - a.index)
    for (const p of byPriority) {
      if (total(shown) <= limit || shown.length === 1) break
      if (p.priority >= 100) continue
      shown = shown.filter((q) => q !== p)
    }
    for (const p of [...shown].sort((a, b) => b.width - a.width)) {
      const over = total(shown) - limit
      if (over <= 0) break
      if (p.truncate) p.width = Math.max(Math.max(6, visible(p.header)), p.width - over)
    }
  }
  const paint = (code: string | undefined, text: string) =>
    options.color && code ? `\u001b[${code}m${text}\u001b[39m` : text
  const line = (r: string[], header = false) =>
    shown
      .map((p, i) => {
        const raw = truncate(r[p.index] ?? '', p.width)
        const pad = ' '.repeat(Math.max(0, p.width - visible(raw)))
        const last = i === shown.length - 1
        const text = header
          ? options.color
            ? `\u001b[1m${raw}\u001b[22m`
            : raw
          : p.status
            ? paint(colourOf(raw), raw)
            : raw
        return p.align === 'right' ? pad + text : last ? text : text + pad
      })
      .join(' '.repeat(GAP))
      .replace(/[ \t]+$/, '')
  const out: string[] = []
  if (options.header !== false)
    out.push(
      line(
        plans.map((p) => p.header),
        true,
      ),
    )
  for (const r of cells) out.push(line(r))
  for (const r of totals) out.push(line(r))
  return out.join('\n')
}

export function colorEnabled(rt: Runtime, globals: GlobalOptions, tty: boolean): boolean {
  if (globals.color === false) return false
  if (rt.env['NO_COLOR'] !== undefined && rt.env['NO_COLOR'] !== '') return false
  if (rt.env['TERM'] === 'dumb') return false
  return tty
}

/** The terminal's width: what the terminal says, else COLUMNS, else 80. */
export function terminalColumns(rt: Runtime): number {
  const fromEnv = Number(rt.env['COLUMNS'])
  return rt.columns ?? (Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 80)
}

export function createOutput(rt: Runtime, globals: GlobalOptions): Output {
  const json = globals.json === true
  const color = colorEnabled(rt, globals, rt.stdoutIsTTY)
  const errColor = colorEnabled(rt, globals, rt.stderrIsTTY)
  const red = (s: string) => (errColor ? `\u001b[31m${s}\u001b[39m` : s)
  return {
    json,
    result(data, human) {
      if (json) rt.stdout.write(`${toJson(data)}\n`)
      else {
        const text = printableText(human(), color)
        if (text) rt.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
      }
    },
    warn(message) {
      rt.stderr.write(`dsh: warning: ${printable(clipEchoes(maskUrlsIn(message)))}\n`)
    },
    info(message) {
      rt.stderr.write(`${printable(message)}\n`)
    },
    print(text) {
      rt.stdout.write(printableText(text, color))
    },
    table(head, rows, options = {}) {
      // Fitted only on a terminal; piped output keeps every column whole.
      const fit = rt.stdoutIsTTY && globals.wide !== true ? terminalColumns(rt) : undefined
      return renderTable(head, rows, { ...options, columns: fit, color })
    },
    fields(pairs) {
      const shown = pairs.filter(([, v]) => v !== undefined) as [string, string | number][]
      const width = Math.max(...shown.map(([k]) => k.length))
      return shown
        .map(
          ([k, v]) => `${`${printable(k, true)}:`.padEnd(width + 2)}${printable(String(v), true)}`,
        )
        .join('\n')
    },
    error(err, verbose) {
      const message = clipEchoes(maskUrlsIn(err.message))
      const shown = printable(message)
      const hint = err.hint ? printable(clipEchoes(err.hint)) : undefined
      if (json) {
        const body: Record<string, unknown> = { code: err.code, message }
        if (err.hint) body['hint'] = clipEchoes(err.hint)
        if (err.details) body['details'] = err.details
        rt.stderr.write(`${toJson({ error: body }, 0)}\n`)
      } else {
        rt.stderr.write(`${red('dsh:')} ${shown}\n`)
        if (hint) rt.stderr.write(`hint: ${hint}\n`)
      }
      if (verbose) {
        const stack = (err.cause as Error | undefined)?.stack ?? err.stack
        if (stack) rt.stderr.write(`${stack}\n`)
      }
    },
  }
}
