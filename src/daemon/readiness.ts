import { pingStore } from '../payments/events.js'
import { schemaStatus } from '../store/migrate.js'
import type { DaemonContext } from './context.js'

/** Why a member is not ready, first failing check first (the balancer's log shows one word). */
export type NotReadyReason =
  | 'store_unreachable'
  | 'schema_behind'
  | 'schema_ahead'
  | 'jobs_not_running'

export type Readiness =
  | { ready: true; daemon: string; jobs: 'all' | 'none' }
  | {
      ready: false
      reason: NotReadyReason
      daemon: string
      jobs: 'all' | 'none'
      detail: string
      pending?: string[]
      unknown?: string[]
      late?: string[]
    }

/** How long the store has to answer `/readyz`'s ping before the member counts as unreachable. */
const PING_TIMEOUT_MS = 2_000

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/**
 * `/readyz`'s checks, kept cheap for a balancer that asks every second or two: a one-row read
 * (the store answers), the migration state read at most once per `readySchemaTtlMs` (a store
 * restored from an older backup, or migrated by a newer dsh, is seen within that time), and the
 * jobs this member is configured to run, from memory.
 */
export function createReadiness(ctx: DaemonContext): () => Promise<Readiness> {
  let schema: { at: number; pending: string[]; unknown: string[] } | undefined
  const base = () => ({ daemon: ctx.instanceId, jobs: ctx.options.jobs })

  async function schemaState() {
    const now = Date.now()
    if (schema && now - schema.at < ctx.options.readySchemaTtlMs) return schema
    const s = await schemaStatus(ctx.store)
    schema = { at: now, pending: s.pending, unknown: s.unknown }
    return schema
  }

  return async () => {
    try {
      await Promise.race([
        pingStore(ctx.store.db),
        sleep(PING_TIMEOUT_MS).then(() => {
          throw new Error(`no answer within ${PING_TIMEOUT_MS / 1000} s`)
        }),
      ])
    } catch (err) {
      // A broken connection must not leave a stale "migrated" behind: read it again once back.
      schema = undefined
      return {
        ready: false,
        reason: 'store_unreachable',
        ...base(),
        detail: `the store does not answer: ${(err as Error).message}`,
      }
    }
    const s = await schemaState()
    if (s.unknown.length > 0)
      return {
        ready: false,
        reason: 'schema_ahead',
        ...base(),
        detail: `the store was migrated by a newer dsh (${s.unknown.length} migrations this build does not know)`,
        unknown: s.unknown,
      }
    if (s.pending.length > 0)
      return {
        ready: false,
        reason: 'schema_behind',
        ...base(),
        detail: `the store is ${s.pending.length} migrations behind this build: run \`dsh migrate\``,
        pending: s.pending,
      }
    if (ctx.options.jobs === 'all') {
      const alive = ctx.jobs?.alive()
      const late = alive ? Object.keys(alive).filter((k) => !alive[k]) : []
      if (!alive || late.length > 0)
        return {
          ready: false,
          reason: 'jobs_not_running',
          ...base(),
          detail: alive
            ? `scheduled jobs not running on time: ${late.join(', ')}`
            : 'the scheduler has not started yet',
          ...(alive ? { late } : {}),
        }
    }
    return { ready: true, ...base() }
  }
}
