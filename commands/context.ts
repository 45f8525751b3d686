import type { Command } from 'commander'
import type { App } from '../src/app.js'
import type { GlobalOptions, Runtime } from '../src/cli/runtime.js'

export interface CommandContext {
  readonly rt: Runtime
  /**
   * Wraps an action: builds the App from the global flags (loading the heavy modules only now,
   * so `dsh --help` stays fast), runs the body, and always closes the store.
   */
  action<A extends unknown[]>(
    body: (app: App, ...args: A) => Promise<void>,
  ): (...args: unknown[]) => Promise<void>
}

const commandPath = (cmd: Command): string => {
  const names: string[] = []
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}

export function createContext(rt: Runtime): CommandContext {
  return {
    rt,
    action<A extends unknown[]>(body: (app: App, ...args: A) => Promise<void>) {
      return async (...args: unknown[]) => {
        const cmd = args[args.length - 1] as Command
        const globals = cmd.optsWithGlobals() as GlobalOptions
        const { createApp, useQuickZones } = await import('../src/app.js')
        // A short command's first times in a zone skip ICU's formatter start-up (the daemon
        // command turns this off again).
        useQuickZones()
        const app = createApp(rt, globals)
        // Anything that runs past half a second says so on a terminal; commands name their wait.
        app.progress.set(`dsh ${commandPath(cmd)} — working`)
        try {
          await body(app, ...(args.slice(0, -1) as A))
        } finally {
          await app.close()
        }
      }
    },
  }
}
