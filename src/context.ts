import type { App } from './app.js'
import type { Output } from './cli/output.js'
import { validationError } from './core/errors.js'

const derived = new WeakMap<App, Map<string, App>>()

export interface ActorOptions {
  /** Where warnings go (the daemon's log) instead of the terminal. */
  warn?: ((message: string) => void) | undefined
}

/**
 * The same App (store, clock, ids, HTTP pools and OAuth tokens shared) acting as `actor`: audit
 * rows carry this name (an API token's name, `daemon`). It never prompts: a missing value is a
 * validation error naming the missing fields. One object per actor, so per-App caches stay shared.
 */
export function withActor(app: App, actor: string, options: ActorOptions = {}): App {
  let byActor = derived.get(app)
  if (!byActor) {
    byActor = new Map()
    derived.set(app, byActor)
  }
  const known = byActor.get(actor)
  if (known) return known
  const warn = options.warn ?? ((m: string) => app.out.warn(m))
  const out: Output = { ...app.out, warn, info: warn }
  const made: App = {
    ...app,
    actor,
    out,
    prompter: {
      interactive: false,
      async fill(values, fields) {
        const missing = fields.filter(
          (f) => values[f.key] === undefined || values[f.key] === null || values[f.key] === '',
        )
        if (missing.length > 0)
          throw validationError(
            'missing_fields',
            `missing required ${missing.length === 1 ? 'field' : 'fields'}: ${missing.map((f) => f.key).join(', ')}`,
          )
        return Object.fromEntries(fields.map((f) => [f.key, String(values[f.key])]))
      },
      async confirm(message) {
        throw validationError('confirmation_required', `${message} needs confirmation`)
      },
    },
  }
  byActor.set(actor, made)
  return made
}
