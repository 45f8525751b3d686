import { statSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { createOutput, type Output } from './cli/output.js'
import { createProgress, type Progress } from './cli/progress.js'
import { createPrompter, type Prompter } from './cli/prompter.js'
import type { GlobalOptions, Runtime } from './cli/runtime.js'
import type { Ctx } from './context.js'
import { openStore, type Store } from './store/connect.js'
import { assertMigrated } from './store/migrate.js'

// For commands/context.ts, from the module every command loads anyway (no chunk of its own).
export { useQuickZones } from './cli/quick-zones.js'

/** The CLI's context: the narrow `Ctx` every capability takes, plus the terminal's own parts. */
export interface App extends Ctx {
  readonly rt: Runtime
  readonly globals: GlobalOptions
  readonly dbSpec: string
  readonly out: Output
  readonly prompter: Prompter
  /** What the command waits for, on a terminal's stderr (see cli/progress.ts). */
  readonly progress: Progress
  /** The store, created when missing, with no schema check (init and migrate). */
  rawStore(): Promise<Store>
  close(): Promise<void>
}

export function dshHome(env: Runtime['env']): string {
  return env['DSH_HOME'] || join(homedir(), '.dsh')
}

export function createApp(rt: Runtime, globals: GlobalOptions): App {
  const home = dshHome(rt.env)
  const dbSpec = globals.db || rt.env['DSH_DB'] || join(home, 'dsh.db')
  let opened: Promise<Store> | undefined
  let checked: Promise<Store> | undefined
  const closers: (() => Promise<void> | void)[] = []
  const progress = createProgress(rt, globals)
  const plain = createOutput(rt, globals)
  // Output and prompts first clear the progress line, so it never mixes with them.
  const out: Output = {
    ...plain,
    json: plain.json,
    result: (data, human) => {
      progress.done()
      plain.result(data, human)
    },
    warn: (m) => progress.around(() => plain.warn(m)),
    info: (m) => progress.around(() => plain.info(m)),
    error: (e, v) => {
      progress.done()
      plain.error(e, v)
    },
  }
  const asking = createPrompter(rt, globals)
  const prompter: Prompter = {
    get interactive() {
      return asking.interactive
    },
    fill: (values, fields) => {
      progress.done()
      return asking.fill(values, fields)
    },
    confirm: (message, yes) => {
      progress.done()
      return asking.confirm(message, yes)
    },
  }
  let looked = false
  /** Warns (once) when the home or the SQLite store can be read by other users. */
  const lookAtModes = (store: Store) => {
    if (looked || process.platform === 'win32') return
    looked = true
    const paths = [home, ...(store.dialect === 'sqlite' ? [dbSpec] : [])]
    for (const p of paths) {
      let mode: number
      try {
        mode = statSync(p).mode
      } catch {
        continue
      }
      if ((mode & 0o077) !== 0)
        out.warn(
          `${p} can be read by other users (mode ${(mode & 0o777).toString(8)}); it holds phone numbers and payment records: run chmod ${p === home ? '700' : '600'} ${p}`,
        )
    }
  }
  const open = (create: boolean) => {
    opened ??= openStore(dbSpec, { create }).then((s) => {
      lookAtModes(s)
      return s
    })
    return opened
  }
  const raw = () => open(true)
  return {
    rt,
    globals,
    home,
    dbSpec,
    clock: rt.clock,
    ids: rt.ids,
    out,
    prompter,
    progress,
    ask: prompter,
    warn: (message) => out.warn(message),
    env: rt.env,
    actor: rt.user,
    store() {
      checked ??= (async () => {
        const store = await open(false)
        await assertMigrated(store)
        return store
      })()
      return checked
    },
    rawStore: raw,
    onClose(fn) {
      closers.push(fn)
    },
    async close() {
      progress.done()
      for (const fn of closers.splice(0).reverse()) await fn()
      if (opened) await (await opened.catch(() => undefined))?.close()
    },
  }
}
