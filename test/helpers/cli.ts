import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const DSH_BIN = fileURLToPath(new URL('../../bin/dsh', import.meta.url))

export interface CliResult {
  code: number
  stdout: string
  stderr: string
  /** stdout parsed as JSON (throws when it is not). */
  json<T = unknown>(): T
}

export interface RunOptions {
  env?: Record<string, string | undefined>
  input?: string
  timeoutMs?: number
}

/** Runs the real compiled `bin/dsh` in a child process, as a user or script would. */
export function dsh(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {}
    for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: '1', ...options.env })) {
      if (v !== undefined) env[k] = v
    }
    delete env['NODE_OPTIONS']
    const child = spawn(process.execPath, [DSH_BIN, ...args], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    // timer(deadline): a stuck dsh is killed and the test fails on its exit code
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({
        code: code ?? -1,
        stdout,
        stderr,
        json<T>() {
          return JSON.parse(stdout) as T
        },
      })
    })
    // A dsh that refuses its input early (a bound, a bad header) closes stdin while the rest is
    // still being written: the EPIPE is expected, and the exit code and stderr say what happened.
    child.stdin.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') reject(err)
    })
    child.stdin.end(options.input ?? '')
  })
}
