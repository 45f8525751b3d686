import Table from 'cli-table3'
import { clipEchoes } from '../core/clip.js'
import type { DshError } from '../core/errors.js'
import { maskUrlsIn } from '../core/url-mask.js'
import { toJson } from './json.js'
import type { GlobalOptions, Runtime } from './runtime.js'

export interface Output {
  readonly json: boolean
  /** Prints the command's result: one JSON document with --json, else the human text. */
  result(data: unknown, human: () => string): void
  /** A diagnostic line on stderr (never stdout). */
  warn(message: string): void
  info(message: string): void
  table(head: string[], rows: (string | number)[][]): string
  /** Two-column key/value block for `show` commands. */
  fields(pairs: [string, string | number | undefined][]): string
  error(err: DshError, verbose: boolean): void
}

export function colorEnabled(rt: Runtime, globals: GlobalOptions, tty: boolean): boolean {
  if (globals.color === false) return false
  if (rt.env['NO_COLOR'] !== undefined && rt.env['NO_COLOR'] !== '') return false
  if (rt.env['TERM'] === 'dumb') return false
  return tty
}

export function createOutput(rt: Runtime, globals: GlobalOptions): Output {
  const json = globals.json === true
  const color = colorEnabled(rt, globals, rt.stdoutIsTTY)
  const errColor = colorEnabled(rt, globals, rt.stderrIsTTY)
  const red = (s: string) => (errColor ? `\u001b[31m${s}\u001b[39m` : s)
  const tableOptions = (head: string[]) =>
    rt.stdoutIsTTY
      ? { head, style: color ? { head: ['cyan'], border: ['grey'] } : { head: [], border: [] } }
      : {
          head,
          style: { head: [], border: [], 'padding-left': 0, 'padding-right': 2 },
          chars: {
            top: '',
            'top-mid': '',
            'top-left': '',
            'top-right': '',
            bottom: '',
            'bottom-mid': '',
            'bottom-left': '',
            'bottom-right': '',
            left: '',
            'left-mid': '',
            mid: '',
            'mid-mid': '',
            right: '',
            'right-mid': '',
            middle: '',
          },
        }
  return {
    json,
    result(data, human) {
      if (json) rt.stdout.write(`${toJson(data)}\n`)
      else {
        const text = human()
        if (text) rt.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
      }
    },
    warn(message) {
      rt.stderr.write(`dsh: warning: ${clipEchoes(maskUrlsIn(message))}\n`)
    },
    info(message) {
      rt.stderr.write(`${message}\n`)
    },
    table(head, rows) {
      const t = new Table(tableOptions(head))
      for (const r of rows) t.push(r.map(String))
      return rt.stdoutIsTTY ? t.toString() : t.toString().replace(/[ \t]+$/gm, '')
    },
    fields(pairs) {
      const shown = pairs.filter(([, v]) => v !== undefined) as [string, string | number][]
      const width = Math.max(...shown.map(([k]) => k.length))
      return shown.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`).join('\n')
    },
    error(err, verbose) {
      const message = clipEchoes(maskUrlsIn(err.message))
      if (json) {
        const body: Record<string, unknown> = { code: err.code, message }
        if (err.hint) body['hint'] = clipEchoes(err.hint)
        if (err.details) body['details'] = err.details
        rt.stderr.write(`${toJson({ error: body }, 0)}\n`)
      } else {
        rt.stderr.write(`${red('dsh:')} ${message}\n`)
        if (err.hint) rt.stderr.write(`hint: ${clipEchoes(err.hint)}\n`)
      }
      if (verbose) {
        const stack = (err.cause as Error | undefined)?.stack ?? err.stack
        if (stack) rt.stderr.write(`${stack}\n`)
      }
    },
  }
}
