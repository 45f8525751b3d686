import { homedir } from 'node:os'
import { join } from 'node:path'
import { createOutput, type Output } from './cli/output.js'
import { createPrompter, type Prompter } from './cli/prompter.js'
import type { GlobalOptions, Runtime } from './cli/runtime.js'
import type { Clock, IdGen } from './core/ports.js'
import { openStore, type Store } from './store/connect.js'
import { assertMigrated } from './store/migrate.js'

/** What every command and the daemon get: configuration, the store (opened lazily), I/O seams. */
export interface App {
  readonly rt: Runtime
  readonly globals: GlobalOptions
  readonly home: string
  readonly dbSpec: string
  readonly clock: Clock
  readonly ids: IdGen
  readonly out: Output
  readonly prompter: Prompter
  /** The acting user, recorded in the audit log. */
  readonly actor: string
  /** The migrated store; exit 7 when it is missing, unmigrated or too new. */
  store(): Promise<Store>
  /** The store, created when missing, with no schema check (init and migrate). */
  rawStore(): Promise<Store>
  /** Registers clean-up (HTTP pools, timers) to run when the command or daemon ends. */
  onClose(fn: () => Promise<void> | void): void
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
  const raw = () => {
    opened ??= openStore(dbSpec, { create: true })
    return opened
  }
  return {
    rt,
    globals,
    home,
    dbSpec,
    clock: rt.clock,
    ids: rt.ids,
    out: createOutput(rt, globals),
    prompter: createPrompter(rt, globals),
    actor: rt.user,
    store() {
      checked ??= (async () => {
        opened ??= openStore(dbSpec, { create: false })
        const store = await opened
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
      for (const fn of closers.splice(0).reverse()) await fn()
      if (opened) await (await opened.catch(() => undefined))?.close()
    },
  }
}
