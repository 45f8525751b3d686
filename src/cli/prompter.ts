import { usageError } from '../core/errors.js'
import type { GlobalOptions, Runtime } from './runtime.js'

export interface Field {
  /** The option name as commander stores it (camelCase). */
  key: string
  /** The flag as the user types it, e.g. `--consumer-secret`. */
  flag: string
  message: string
  secret?: boolean
  choices?: readonly string[]
  default?: string
}

export interface Prompter {
  readonly interactive: boolean
  /** Fills every missing field by asking on a TTY; otherwise one usage error naming all missing flags. */
  fill(values: Record<string, unknown>, fields: readonly Field[]): Promise<Record<string, string>>
  /** Asks before a severe action; without a TTY it requires --yes. */
  confirm(message: string, yesFlag: boolean): Promise<void>
}

const missing = (v: unknown) => v === undefined || v === null || v === ''

export function createPrompter(rt: Runtime, globals: GlobalOptions): Prompter {
  const interactive = rt.stdinIsTTY && globals.input !== false
  return {
    interactive,
    async fill(values, fields) {
      const out: Record<string, string> = {}
      const absent = fields.filter((f) => missing(values[f.key]))
      for (const f of fields) if (!missing(values[f.key])) out[f.key] = String(values[f.key])
      if (absent.length === 0) return out
      if (!interactive) {
        throw usageError(
          'missing_flags',
          `missing required ${absent.length === 1 ? 'flag' : 'flags'}: ${absent.map((f) => f.flag).join(', ')}`,
          rt.stdinIsTTY
            ? 'give them as flags (prompts are off with --no-input)'
            : 'give them as flags; dsh prompts only on a terminal',
        )
      }
      const prompts = await import('@inquirer/prompts')
      const ctx = { input: rt.stdin, output: process.stderr }
      for (const f of absent) {
        if (f.choices) {
          out[f.key] = await prompts.select(
            {
              message: f.message,
              choices: f.choices.map((c) => ({ value: c, name: c })),
              ...(f.default ? { default: f.default } : {}),
            },
            ctx,
          )
        } else if (f.secret) {
          out[f.key] = await prompts.password({ message: f.message, mask: '*' }, ctx)
        } else {
          out[f.key] = await prompts.input(
            { message: f.message, required: true, ...(f.default ? { default: f.default } : {}) },
            ctx,
          )
        }
      }
      return out
    },
    async confirm(message, yesFlag) {
      if (yesFlag || globals.yes) return
      if (!interactive) {
        throw usageError(
          'confirmation_required',
          `${message} needs confirmation`,
          'add --yes to confirm without a prompt',
        )
      }
      const { confirm } = await import('@inquirer/prompts')
      const ok = await confirm(
        { message: `${message}?`, default: false },
        { input: rt.stdin, output: process.stderr },
      )
      if (!ok) throw usageError('not_confirmed', 'cancelled; nothing was changed')
    },
  }
}
