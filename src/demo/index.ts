import { EventEmitter } from 'node:events'
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { configSet } from '../admin/config.js'
import { initialise } from '../admin/init.js'
import { type App, createApp } from '../app.js'
import type { Runtime } from '../cli/runtime.js'
import { validationError } from '../core/errors.js'
import { parseDaemonOptions, runDaemon } from '../daemon/index.js'
import { reconcileRun } from '../reconciliation/run.js'
import type { RunReport } from '../reconciliation/view.js'
import { type Sandbox, startSandbox } from '../sandbox/index.js'
import { listSettlements } from '../settlement/lifecycle.js'
import { settle } from '../settlement/settle.js'
import { importStatement } from '../statements/import.js'
import { BRANCHES, registerBankWebhook, setUpTenant } from './setup.js'
import { stalled } from './stalled.js'
import { bankStatement, mpesaStatement, type Planted, type StatementFile } from './statements.js'
import { allPayments, plan, runPayments, scenes as runScenes, waitUntilFinal } from './traffic.js'
import { finalViews } from './views.js'

export type { Planted } from './statements.js'

export interface DemoOptions {
  /** Where the store goes (default a fresh temporary directory); must be empty or absent. */
  home?: string | undefined
  /** Leave the home in place afterwards (an ordinary DSH_HOME). */
  keep?: boolean | undefined
}

export interface DemoResult {
  home: string
  kept: boolean
  branches: { code: string; name: string; currency: string; timezone: string }[]
  payments: number
  batches: number
  planted: Planted[]
  found: Planted[]
  /** The closing views, as text. */
  views: string
  elapsedMs: number
}

const byCategoryThenRef = (a: Planted, b: Planted) =>
  a.category.localeCompare(b.category) || a.reference.localeCompare(b.reference)

/** A discrepancy named the way the demo plants it: payment id, else batch, else line reference. */
export function foundOf(r: RunReport): Planted[] {
  return r.discrepancies.map((d) => ({
    category: d.category,
    reference: d.payment?.id ?? d.batch?.reference ?? d.statementLine?.reference ?? '',
  }))
}

function prepareHome(given: string | undefined): { home: string; created: boolean } {
  if (!given) return { home: mkdtempSync(join(tmpdir(), 'dsh-demo-')), created: true }
  const home = resolve(given)
  if (!existsSync(home)) {
    mkdirSync(home, { recursive: true, mode: 0o700 })
    return { home, created: true }
  }
  if (readdirSync(home).length > 0)
    throw validationError(
      'demo_home_not_empty',
      `${home} is not empty: the demo builds a new store and never touches an existing one`,
      'give an empty or new directory, or leave out --home for a temporary one',
    )
  return { home, created: false }
}

function cleanUp(home: string, created: boolean): void {
  if (created) rmSync(home, { recursive: true, force: true })
  else for (const f of readdirSync(home)) rmSync(join(home, f), { recursive: true, force: true })
}

interface RunningDaemon {
  url: string
  stop(): Promise<void>
}

/** The daemon in-process, as `dsh daemon` runs it, with a recovery schedule of seconds. */
async function startDaemonInProcess(app: App, logFile: string): Promise<RunningDaemon> {
  const signals = new EventEmitter()
  const options = parseDaemonOptions(
    {
      host: '127.0.0.1',
      port: '0',
      recoverySchedule: '1s,2s,3s,5s,8s',
      unknownSchedule: '1s/30s',
      recoveryInterval: '1s',
      shutdownTimeout: '5s',
      logLevel: 'info',
    },
    {},
  )
  let listening: (url: string) => void = () => {}
  const ready = new Promise<string>((r) => {
    listening = r
  })
  const done = runDaemon(app, options, {
    signals,
    onListening: (info) => listening(info.url),
    logWrite: (t) => appendFileSync(logFile, t),
  })
  const url = await Promise.race([
    ready,
    done.then(() => {
      throw stalled(`the daemon stopped before listening; see ${logFile}`)
    }),
  ])
  return {
    url,
    async stop() {
      signals.emit('SIGTERM')
      await done
    },
  }
}

/**
 * `dsh demo`: a whole day of a three-branch restaurant group on a new store, against the
 * sandbox, through the same services the commands use: set-up, ≥ 200 payments with their
 * failures, recovery, settlement, statements with planted problems, reconciliation, views.
 */
export async function runDemo(
  rt: Runtime,
  opts: DemoOptions,
  say: (line: string) => void,
): Promise<DemoResult> {
  const t0 = Date.now()
  const step = (m: string) => say(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(4)}s] ${m}`)
  const { home, created } = prepareHome(opts.home)
  // Only the demo's home: never the user's DSH_DB, DSH_MASTER_KEY or DSH_HOME.
  const app = createApp({ ...rt, env: { DSH_HOME: home } }, {})
  let sandbox: Sandbox | undefined
  let daemon: RunningDaemon | undefined
  // Ctrl-C exits at once (130): the temporary home still goes, unless --keep.
  const onExit = () => cleanUp(home, created)
  if (!opts.keep) process.once('exit', onExit)
  try {
    step(`new store in ${home}`)
    await initialise(app)
    sandbox = await startSandbox({
      callbackDelayMs: 50,
      slowAnswerMs: 2_000,
      lateCallbackMs: 1_000,
    })
    step(`sandbox (Daraja, KCB, Stripe, Square, bank) on ${sandbox.url}`)
    await setUpTenant(app, sandbox)
    step(
      'tenant savanna: nairobi (KES), kampala (UGX), dar (TZS); gateways with fees; settlement accounts',
    )
    daemon = await startDaemonInProcess(app, join(home, 'demo-daemon.log'))
    await configSet(app, 'public-url', daemon.url)
    await registerBankWebhook(app, sandbox)
    step(`daemon on ${daemon.url} (recovery checks at 1s, 2s, 3s, 5s, 8s)`)

    const scenes = await runScenes(app, sandbox.url, 3)
    step(
      `KCB outage (${scenes.outage[0]?.skipped[0] ?? 'no answer'}): ${scenes.outage.length} enterprise payments failed over to ${[...new Set(scenes.outage.map((o) => o.payment.gateway))].join(', ')}`,
    )
    step(
      `Stripe answer withheld past the read timeout, card charged: ${scenes.slow.id} is ${scenes.slow.status}`,
    )
    const planned = plan()
    await runPayments(app, planned, 6, (n) => step(`${n} of ${planned.length} payments sent`))
    step(`${planned.length} payments sent; waiting for callbacks and recovery`)
    const all = await waitUntilFinal(app, Date.now() + 35_000, (open) =>
      step(
        `${open.length} open: ${[...new Set(open.map((p) => p.status))].join(', ')} (lost callbacks wait for recovery)`,
      ),
    )
    const slow = all.find((p) => p.id === scenes.slow.id)
    step(`every payment is final; the slow Stripe payment is ${slow?.status}`)

    for (const b of BRANCHES) {
      const r = await settle(app, { branch: b.code })
      const failed = r.failures.map((f) => `${f.reference}: ${f.message}`)
      if (failed.length > 0) throw stalled(`settlement of ${b.code} failed: ${failed.join('; ')}`)
      const transfers = r.report.batches.filter((x) => x.kind === 'transfer')
      const cash = r.report.batches.filter((x) => x.kind === 'cash_deposit')
      step(
        `settled ${b.code}: ${transfers.map((x) => `${x.gateway} ${x.net} ${x.currency}`).join(', ')}${cash.map((x) => `; bank ${x.expected} ${x.currency} in cash (deposit reference ${x.depositReference})`).join('')}`,
      )
    }
    await waitForBankConfirmations(app, Date.now() + 10_000)
    step('the bank confirmed the nairobi transfers (signed webhooks to the daemon)')

    const dir = join(home, 'statements')
    const ledger = sandbox.ledger()
    const payments = await allPayments(app)
    const batches = await listSettlements(app, { limit: '100000' })
    const files: StatementFile[] = []
    const planted: Planted[] = []
    const now = new Date()
    const nbo = BRANCHES[0]
    const m = mpesaStatement(dir, nbo, ledger, payments, now)
    files.push(m.file)
    planted.push(...m.planted)
    for (const b of BRANCHES) {
      const s = bankStatement(
        dir,
        b,
        batches,
        ledger,
        {
          ...(b.code === 'kampala' ? { feeShortMinor: 2_500n } : {}),
          ...(b.code === 'dar' ? { strangerMinor: 7_770_000n } : {}),
          // nairobi banks its cash KES 100.00 short: reconciliation must find it
          ...(b.code === 'nairobi' ? { cashShortMinor: 10_000n } : {}),
        },
        now,
      )
      files.push(s.file)
      planted.push(...s.planted)
    }
    step(`statements arrived: ${files.map((f) => f.path.slice(home.length + 1)).join(', ')}`)
    for (const f of files) {
      const r = await importStatement(app, { branch: f.branch, profile: f.profile, file: f.path })
      step(
        `imported ${r.imported} line(s) of ${f.branch} ${f.profile}${r.balanceBreaks.length ? ` (${r.balanceBreaks.length} balance breaks)` : ''}`,
      )
    }
    const runs: RunReport[] = []
    for (const b of BRANCHES) {
      const { report } = await reconcileRun(app, { branch: b.code })
      runs.push(report)
      step(
        `reconciled ${b.code}: ${report.summary.matched} of ${report.summary.lines} lines matched, ${report.summary.discrepancies} discrepancies`,
      )
    }
    const found = runs.flatMap(foundOf)
    const views = await finalViews(app, runs)
    const settled = await listSettlements(app, { limit: '100000' })
    return {
      home,
      kept: opts.keep === true,
      branches: BRANCHES.map((b) => ({ ...b })),
      payments: payments.length,
      batches: settled.length,
      planted: planted.sort(byCategoryThenRef),
      found: found.sort(byCategoryThenRef),
      views,
      elapsedMs: Date.now() - t0,
    }
  } finally {
    await daemon?.stop().catch((e) => say(`stopping the daemon: ${(e as Error).message}`))
    await sandbox?.close()
    await app.close()
    process.removeListener('exit', onExit)
    if (!opts.keep) cleanUp(home, created)
    step(opts.keep ? `stopped; the store stays in ${home}` : 'stopped and cleaned up')
  }
}

/** Waits until no `http` batch is still processing (the bank's webhook completes them). */
async function waitForBankConfirmations(app: App, deadlineMs: number): Promise<void> {
  for (;;) {
    const open = (await listSettlements(app, { status: 'processing' })).filter(
      (b) => b.transfer?.adapter === 'http',
    )
    if (open.length === 0) return
    if (Date.now() > deadlineMs)
      throw stalled(`no bank confirmation for ${open.map((b) => b.reference).join(', ')}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}
