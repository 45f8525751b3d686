import type { ErrorKind } from '../core/errors.js'
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
  /** The terminal's width in characters, when stdout is a terminal. */
  readonly columns?: number | undefined
  readonly clock: Clock
  readonly ids: IdGen
  readonly user: string
  /**
   * A command that judges something (`audit verify`, `backup verify`, `doctor`) records its
   * verdict before printing it: when the reader of stdout stops early (`| head -1`), dsh ends
   * quietly with that code rather than 0.
   */
  verdict?(kind: ErrorKind | 'ok'): void
}

export interface GlobalOptions {
  db?: string
  json?: boolean
  input?: boolean
  yes?: boolean
  verbose?: boolean
  color?: boolean
  /** Tables show every column whole, however wide. */
  wide?: boolean
}
