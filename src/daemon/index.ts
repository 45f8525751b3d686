import type { Kysely } from 'kysely'
import { configGet, configSet } from '../admin/config.js'
import type { App } from '../app.js'
import { releaseClaims } from '../callbacks/inbox.js'
import type { Ctx } from '../context.js'
import { withActor } from '../context.js'
import { ulidGen } from '../core/ids.js'
import { DEFAULT_TIMEZONE, wallClock } from '../core/time.js'
import { pooledRandom } from '../random.js'
import { bankWebhookSecret } from '../settlement/batches.js'
import { acquireSqliteDaemonLock, type DaemonLock } from '../store/daemon-lock.js'
import type { Database } from '../store/schema.js'
import type { BranchWithTenant } from '../tenants/branches.js'
import { apiRoutes } from './api-routes.js'
import { callbackRoutes } from './callback-routes.js'
import { createLookups, type DaemonContext } from './context.js'
import { dashboardRoutes } from './dashboard.js'
import { createInboxWriter, type InboxWriter } from './inbox-writer.js'
import { type JobRunner, startJobs } from './jobs.js'
import { createLogger, type Logger } from './log.js'
import { Metrics } from './metrics.js'
import { type DaemonOptions, everyCron } from './options.js'
import { createDaemonServer, type DaemonServer, opsRoutes } from './server.js'
import { createEventHub, type EventHub } from './sse.js'
import { createInboxWorker, type InboxWorker } from './worker.js'

export type { DaemonOptions } from './options.js'
export { parseDaemonOptions } from './options.js'

/** Where stop signals come from: the process, or an EventEmitter in tests. */
export interface SignalSource {
  prependOnceListener(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown
  removeListener(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown
}

export interface RunDaemonDeps {
  signals: SignalSource
  /** Called once listening (the command prints it with --json). */
  onListening?: ((info: { url: string; port: number; pid: number }) => void) | undefined
  /** Called when a stop signal arrives (the command restores Ctrl-C's hard exit). */
  onStopping?: (() => void) | undefined
  /** The bank API's webhook secrets of a branch (one per http settlement account). */
  bankSecret?:
    | ((app: Ctx, db: Kysely<Database>, branch: BranchWithTenant) => Promise<string[]>)
    | undefined
  /** Where the JSON-lines log goes (default: the runtime's stderr). */
  logWrite?: ((text: string) => void) | undefined
}

function nextSignal(signals: SignalSource): { signal: Promise<string>; cancel(): void } {
  let cancel = () => {}
  const signal = new Promise<string>((resolve) => {
    const onInt = () => done('SIGINT')
    const onTerm = () => done('SIGTERM')
    cancel = () => {
      signals.removeListener('SIGINT', onInt)
      signals.removeListener('SIGTERM', onTerm)
    }
    const done = (sig: string) => {
      cancel()
      resolve(sig)
    }
    signals.prependOnceListener('SIGINT', onInt)
    signals.prependOnceListener('SIGTERM', onTerm)
  })
  return { signal, cancel: () => cancel() }
}

async function storePublicUrl(app: Ctx, url: string, log: Logger): Promise<void> {
  const current = (await configGet(app, 'public-url'))[0]?.value ?? null
  if (current === url.trim().replace(/\/+$/, '')) return
  const r = await configSet(app, 'public-url', url)
  log.info('public_url.stored', { publicUrl: r.value, previous: current })
}

/**
 * `dsh daemon`: callbacks, the REST API, live events, metrics and the scheduler on one port,
 * until SIGTERM or SIGINT; then it stops accepting, lets in-flight work finish, stops the jobs,
 * commits what is queued, closes the store and returns (exit 0).
 */
export async function runDaemon(
  base: App,
  options: DaemonOptions,
  deps: RunDaemonDeps,
): Promise<void> {
  const instanceId = base.ids.next('dmn')
  const log = createLogger(deps.logWrite ?? ((t) => base.rt.stderr.write(t)), options.logLevel)
  const stopping = nextSignal(deps.signals)
  let lock: DaemonLock | undefined
  let inbox: InboxWriter | undefined
  let hub: EventHub | undefined
  let server: DaemonServer | undefined
  let worker: InboxWorker | undefined
  let jobs: JobRunner | undefined
  let stopLoopWatch: (() => void) | undefined
  try {
    const store = await base.store()
    if (store.dialect === 'sqlite')
      lock = await acquireSqliteDaemonLock(base.dbSpec, {
        pid: process.pid,
        daemon: instanceId,
        startedAt: new Date().toISOString(),
      })
    if (lock) {
      const r = await releaseClaims(store.db, new Date().toISOString())
      if (Number(r.numUpdatedRows) > 0)
        log.info('inbox.claims_released', { count: Number(r.numUpdatedRows) })
    }
    const app = withActor(base, 'daemon', {
      warn: (m) => log.warn('warning', { detail: m }),
    })
    if (options.publicUrl) await storePublicUrl(app, options.publicUrl, log)
    // ICU's formatters start on first use (~14 ms in one piece): here, before any request waits.
    wallClock(DEFAULT_TIMEZONE, new Date())
    const metrics = new Metrics()
    stopLoopWatch = metrics.watchEventLoop()
    inbox = await createInboxWriter(store, base.dbSpec)
    hub = createEventHub(store.db, log)
    const resolveBank = deps.bankSecret ?? bankWebhookSecret
    const ctx: DaemonContext = {
      app,
      ids: ulidGen(Date.now, pooledRandom()),
      store,
      options,
      log,
      metrics,
      inbox,
      hub,
      worker: undefined as unknown as InboxWorker,
      jobs: undefined,
      instanceId,
      inflight: () => server?.inflight() ?? 0,
      bankSecret: (db, branch) => resolveBank(app, db, branch),
      lookups: createLookups(app, store),
    }
    worker = createInboxWorker(
      app,
      {
        unmatchedWindowMs: options.unmatchedWindowMs,
        pollMs: 1_000,
        concurrency: 8,
        answeringConcurrency: 2,
        batch: 64,
        busyShare: 0.3,
        sliceMs: 30,
      },
      log,
      metrics,
      () => server?.busy() ?? false,
      () => (server?.inflight() ?? 0) > 0,
    )
    ctx.worker = worker
    server = createDaemonServer(ctx, [
      ...callbackRoutes(ctx),
      ...apiRoutes(ctx),
      ...dashboardRoutes(ctx),
      ...opsRoutes(ctx),
    ])
    const { url, port } = await server.listen()
    lock?.note({ url })
    worker.start()
    if (options.jobs === 'all') {
      jobs = await startJobs(
        app,
        {
          recovery: options.recovery,
          recoveryCron: everyCron(options.recoveryEveryMs),
          dbSpec: base.dbSpec,
        },
        instanceId,
        log,
        metrics,
      )
      ctx.jobs = jobs
    } else log.info('jobs.none', { detail: 'this member runs no scheduled job (--jobs none)' })
    log.info('listening', {
      url,
      daemon: instanceId,
      pid: process.pid,
      store: store.location,
      dialect: store.dialect,
      jobs: options.jobs,
    })
    deps.onListening?.({ url, port, pid: process.pid })
    const signal = await stopping.signal
    deps.onStopping?.()
    log.info('stopping', { signal, inflight: server.inflight() })
    hub.close()
    await server.close(options.shutdownTimeoutMs)
    await jobs?.stop(options.shutdownTimeoutMs)
    await worker.stop(options.shutdownTimeoutMs)
    await inbox.drain()
    log.info('stopped', { signal })
  } finally {
    stopping.cancel()
    hub?.close()
    await server?.close(0).catch(() => {})
    await jobs?.stop(0).catch(() => {})
    await worker?.stop(0).catch(() => {})
    inbox?.close()
    stopLoopWatch?.()
    lock?.release()
    log.flush()
  }
}
