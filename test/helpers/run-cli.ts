import { randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import { buildProgram } from '../../commands/index.js'
import { runCli } from '../../src/cli/run.js'
import type { Runtime } from '../../src/cli/runtime.js'
import { ulidGen } from '../../src/core/ids.js'
import type { Clock, IdGen } from '../../src/core/ports.js'

export interface InProcessResult {
  code: number
  stdout: string
  stderr: string
  json<T = unknown>(): T
}

export interface InProcessOptions {
  env?: Record<string, string | undefined>
  clock?: Clock
  ids?: IdGen
  user?: string
}

/**
 * Runs the real command tree in this process (fast: no node start-up per call), with captured
 * output, no TTY, and an injectable clock and id generator.
 */
/** A non-TTY runtime with captured output, for the CLI or for building an App directly. */
export function testRuntime(options: InProcessOptions = {}): {
  rt: Runtime
  out: () => { stdout: string; stderr: string }
} {
  let stdout = ''
  let stderr = ''
  const stdin = new PassThrough()
  stdin.end()
  const rt: Runtime = {
    env: { NO_COLOR: '1', ...options.env },
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin,
    stdinIsTTY: false,
    stdoutIsTTY: false,
    stderrIsTTY: false,
    clock: options.clock ?? { now: () => new Date() },
    ids: options.ids ?? ulidGen(Date.now, (n) => randomBytes(n)),
    user: options.user ?? 'tester',
  }
  return { rt, out: () => ({ stdout, stderr }) }
}

export async function runInProcess(
  args: string[],
  options: InProcessOptions = {},
): Promise<InProcessResult> {
  const { rt, out } = testRuntime(options)
  const code = await runCli(rt, args, buildProgram)
  const { stdout, stderr } = out()
  return {
    code,
    stdout,
    stderr,
    json<T>() {
      return JSON.parse(stdout) as T
    },
  }
}
