import type { Clock, IdGen } from './core/ports.js'
import type { Store } from './store/connect.js'

/** A value a capability needs from whoever is acting: a flag on the CLI, a body field in the API. */
export interface Field {
  /** The request field's name (camelCase). */
  key: string
  /** The flag as the user types it, e.g. `--consumer-secret` (the CLI shows it; the API never). */
  flag: string
  message: string
  secret?: boolean
  choices?: readonly string[]
  default?: string | undefined
  /** Judges a typed value: undefined when good, else why it is not (asked again). */
  validate?: ((value: string) => string | undefined) | undefined
}

/**
 * How a capability asks for what is missing. The CLI asks on a terminal and otherwise names every
 * missing flag; the daemon never asks: a missing field is a validation error naming the fields.
 */
export interface Ask {
  readonly interactive: boolean
  /** Fills every missing field, or refuses naming all of them at once. */
  fill(values: Record<string, unknown>, fields: readonly Field[]): Promise<Record<string, string>>
  /** Asks before a severe action; without a terminal it requires `yes`. */
  confirm(message: string, yes: boolean): Promise<void>
}

/**
 * What every capability function gets: the store, time, ids, who acts, and two seams (warn, ask)
 * that the CLI and the daemon each fill their own way. Nothing of the terminal or of HTTP.
 */
export interface Ctx {
  /** The migrated store; exit 7 when it is missing, unmigrated or too new. */
  store(): Promise<Store>
  readonly clock: Clock
  readonly ids: IdGen
  /** The acting user, recorded in the audit log. */
  readonly actor: string
  /** A diagnostic for a person (stderr on the CLI, the log in the daemon). */
  warn(message: string): void
  readonly ask: Ask
  readonly env: Readonly<Record<string, string | undefined>>
  /** DSH_HOME: master key, outbox, backups. */
  readonly home: string
  /** Registers clean-up (HTTP pools, timers) to run when the command or daemon ends. */
  onClose(fn: () => Promise<void> | void): void
}

/**
 * A scheduled job of the daemon. `cron` has six fields (seconds first, node-cron 4); `timezone`
 * is an IANA name (default the machine's). Each tick runs once across every daemon sharing the
 * store. Capabilities provide jobs (a `JobProvider`); only the daemon runs them.
 */
export interface DaemonJob {
  name: string
  cron: string
  timezone?: string | undefined
  /** One tick: a short summary for the log and the job_ticks row; idle ones are logged at debug. */
  run(tick: Date): Promise<JobResult>
}

export interface JobResult {
  summary: string
  /** Nothing to do this tick. */
  idle?: boolean
}

/** The daemon's options that jobs read (recovery schedule and cadence). */
export interface JobSettings {
  recovery: { pendingMs: readonly number[]; unknownMs: readonly number[] }
  /** Six-field cron of the recovery job (default every 5 s). */
  recoveryCron: string
  /** The store the daemon runs on (a SQLite path or a postgres:// URL): backups copy it. */
  dbSpec: string
}

export type JobProvider = (ctx: Ctx, settings: JobSettings) => Promise<DaemonJob[]>

const REFUSE: Ask = {
  interactive: false,
  async fill(values, fields) {
    const missing = fields.filter(
      (f) => values[f.key] === undefined || values[f.key] === null || values[f.key] === '',
    )
    if (missing.length > 0) {
      const { validationError } = await import('./core/errors.js')
      throw validationError(
        'missing_fields',
        `missing required ${missing.length === 1 ? 'field' : 'fields'}: ${missing.map((f) => f.key).join(', ')}`,
      )
    }
    return Object.fromEntries(fields.map((f) => [f.key, String(values[f.key])]))
  },
  async confirm(message) {
    const { validationError } = await import('./core/errors.js')
    throw validationError('confirmation_required', `${message} needs confirmation`)
  },
}

const derived = new WeakMap<Ctx, Map<string, Ctx>>()

export interface ActorOptions {
  /** Where warnings go (the daemon's log) instead of the terminal. */
  warn?: ((message: string) => void) | undefined
}

/**
 * The same context (store, clock, ids, HTTP pools and OAuth tokens shared) acting as `actor`:
 * audit rows carry this name (an API token's name, `daemon`). It never asks: a missing value is a
 * validation error naming the missing fields. One object per actor, so per-context caches stay
 * shared.
 */
export function withActor(ctx: Ctx, actor: string, options: ActorOptions = {}): Ctx {
  let byActor = derived.get(ctx)
  if (!byActor) {
    byActor = new Map()
    derived.set(ctx, byActor)
  }
  const known = byActor.get(actor)
  if (known) return known
  const made: Ctx = {
    store: () => ctx.store(),
    clock: ctx.clock,
    ids: ctx.ids,
    actor,
    warn: options.warn ?? ((m) => ctx.warn(m)),
    ask: REFUSE,
    env: ctx.env,
    home: ctx.home,
    onClose: (fn) => ctx.onClose(fn),
  }
  byActor.set(actor, made)
  return made
}
