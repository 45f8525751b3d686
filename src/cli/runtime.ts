import type { Clock, IdGen } from '../core/ports.js'

/** Everything the CLI takes from the process, so tests can run it in-process with their own. */
export interface Runtime {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly stdout: { write(text: string): unknown }
  readonly stderr: { write(text: string): unknown }
  readonly stdin: NodeJS.ReadableStream
  readonly stdinIsTTY: boolean
  readonly stdoutIsTTY: boolean
  readonly stderrIsTTY: boolean
  readonly clock: Clock
  readonly ids: IdGen
  readonly user: string
}

export interface GlobalOptions {
  db?: string
  json?: boolean
  input?: boolean
  yes?: boolean
  verbose?: boolean
  color?: boolean
}
