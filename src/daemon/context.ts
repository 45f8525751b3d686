import type { Kysely } from 'kysely'
import { getSetting } from '../admin/settings.js'
import { branchForToken, PUBLIC_URL_SETTING } from '../callbacks/callback-url.js'
import type { Ctx } from '../context.js'
import type { GatewayAdapter } from '../core/payments/gateway-port.js'
import type { IdGen } from '../core/ports.js'
import { adapterFor } from '../gateway-config/adapters.js'
import { type BranchGateway, branchGateways } from '../gateway-config/in-force.js'
import type { Store } from '../store/connect.js'
import type { Database } from '../store/schema.js'
import { type BranchWithTenant, findBranchByCode, findBranchById } from '../tenants/branches.js'
import type { InboxWriter } from './inbox-writer.js'
import type { JobRunner } from './jobs.js'
import type { Logger } from './log.js'
import type { Metrics } from './metrics.js'
import type { DaemonOptions } from './options.js'
import type { EventHub } from './sse.js'
import type { InboxWorker } from './worker.js'

/**
 * A small read-through cache with a short life: the daemon reads configuration from the store
 * when it needs it, so a `dsh` command in another process (a rotated token, a new gateway secret)
 * applies within `ttlMs` without a restart. Concurrent misses share one load.
 *
 * Bounded: at most `max` entries, least recently used evicted first, expired ones swept as new
 * ones come; a load answering null (an unknown key) is not kept, so requests for keys that do not
 * exist cannot fill it.
 */
export class TtlCache<V> {
  private entries = new Map<string, { value: V; until: number }>()
  private loading = new Map<string, Promise<V>>()
  private sets = 0
  constructor(
    private readonly ttlMs: number,
    private readonly max = 1_000,
  ) {}

  size(): number {
    return this.entries.size
  }

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const now = Date.now()
    const hit = this.entries.get(key)
    if (hit) {
      this.entries.delete(key)
      if (hit.until > now) {
        this.entries.set(key, hit) // most recently used last
        return hit.value
      }
    }
    const pending = this.loading.get(key)
    if (pending) return pending
    const p = load()
      .then((value) => {
        if (value !== null && value !== undefined) this.put(key, value)
        return value
      })
      .finally(() => this.loading.delete(key))
    this.loading.set(key, p)
    return p
  }

  private put(key: string, value: V): void {
    const now = Date.now()
    this.entries.set(key, { value, until: now + this.ttlMs })
    if (++this.sets % 64 === 0)
      for (const [k, e] of this.entries) if (e.until <= now) this.entries.delete(k)
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next()
      if (oldest.done) break
      this.entries.delete(oldest.value)
    }
  }
}

/** Path segments worth a look-up: anything else is unknown without touching the store. */
const PATH_TOKEN = /^[A-Za-z0-9_-]{16,128}$/
const BRANCH_CODE = /^[a-z][a-z0-9-]{0,39}$/
const KNOWN_TYPES = /^(?:mpesa|mpesa-kcb|stripe|square|cash|bank)$/

export interface GatewayHandle {
  gw: BranchGateway
  adapter: GatewayAdapter
}

export interface DaemonContext {
  /** The daemon's Ctx, acting as `daemon` in the audit log. */
  app: Ctx
  /** Ids for inbox rows (time-ordered, from a pooled random source: one per callback). */
  ids: IdGen
  store: Store
  options: DaemonOptions
  log: Logger
  metrics: Metrics
  inbox: InboxWriter
  worker: InboxWorker
  hub: EventHub
  jobs: JobRunner | undefined
  instanceId: string
  inflight(): number
  /** The bank API's webhook secrets of a branch: one per http settlement account (currency). */
  bankSecret(db: Kysely<Database>, branch: BranchWithTenant): Promise<string[]>
  lookups: Lookups
}

/** The cached look-ups of the callback hot path. */
export interface Lookups {
  branchForToken(type: string, token: string): Promise<BranchWithTenant | null>
  branchByCode(code: string): Promise<BranchWithTenant | null>
  gateway(branch: BranchWithTenant, type: string): Promise<GatewayHandle | null>
  publicUrl(): Promise<string | null>
}

export function createLookups(app: Ctx, store: Store, ttlMs = 1_000): Lookups {
  const tokens = new TtlCache<BranchWithTenant | null>(ttlMs)
  const codes = new TtlCache<BranchWithTenant | null>(ttlMs)
  const gateways = new TtlCache<GatewayHandle | null>(ttlMs)
  const setting = new TtlCache<string | null>(ttlMs)
  return {
    branchForToken: async (type, token) =>
      !KNOWN_TYPES.test(type) || !PATH_TOKEN.test(token)
        ? null
        : tokens.get(`${type}:${token}`, async () => {
            const id = await branchForToken(app, store.db, type, token)
            return id ? ((await findBranchById(store.db, id)) ?? null) : null
          }),
    branchByCode: async (code) =>
      !BRANCH_CODE.test(code)
        ? null
        : codes.get(code, async () => (await findBranchByCode(store.db, code)) ?? null),
    gateway: (branch, type) =>
      gateways.get(`${branch.id}:${type}`, async () => {
        const gw = (await branchGateways(store.db, branch)).find((g) => g.type === type)
        return gw ? { gw, adapter: await adapterFor(app, gw) } : null
      }),
    publicUrl: () =>
      setting.get('public', async () => (await getSetting(store.db, PUBLIC_URL_SETTING)) ?? null),
  }
}
