import type { Ask } from '../context.js'
import { DshError, usageError } from '../core/errors.js'
import type { GlobalOptions, Runtime } from './runtime.js'

export type { Field } from '../context.js'

/** The terminal's way of asking: prompts on a TTY, else one usage error naming every flag. */
export type Prompter = Ask

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
        // A bad value is refused as it is typed, and asked again (secrets too).
        const validate = (v: string) => {
          if (f.secret && v === '') return 'must not be empty'
          return f.validate?.(v) ?? true
        }
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
          out[f.key] = await prompts.password({ message: f.message, mask: '*', validate }, ctx)
        } else {
          out[f.key] = await prompts.input(
            {
              message: f.message,
              required: true,
              validate,
              ...(f.default ? { default: f.default } : {}),
            },
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
      // Declining is the user's choice, like Ctrl-C: 130, not a usage error.
      if (!ok) throw new DshError('interrupted', 'not_confirmed', 'cancelled, nothing changed')
    },
  }
}
