import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { DSH_BIN } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait.js'

/** A port nobody listens on right now (the daemon binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      const port = typeof a === 'object' && a ? a.port : 0
      s.close(() => resolve(port))
    })
  })
}

export { waitFor }

export interface LogLine {
  time: string
  level: string
  msg: string
  [k: string]: unknown
}

export interface RunningDaemon {
  url: string
  port: number
  proc: ChildProcess
  /** Every JSON log line so far. */
  logs: LogLine[]
  /** Raw stderr, for failure messages and leak checks. */
  stderr(): string
  /** Sends a signal and resolves with the exit code (or the signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>
  exited: Promise<number | string>
}

/**
 * Spawns the real `node bin/dsh daemon` (built dist/) with the store env, waits for its
 * `listening` log line, and collects its JSON-lines log.
 */
export async function startDaemon(
  env: Record<string, string>,
  args: string[],
  timeoutMs = 15_000,
): Promise<RunningDaemon> {
  const childEnv: Record<string, string> = {}
  for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: '1', ...env }))
    if (v !== undefined) childEnv[k] = v
  delete childEnv['NODE_OPTIONS']
  const proc = spawn(process.execPath, [DSH_BIN, 'daemon', ...args], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: LogLine[] = []
  let raw = ''
  let partial = ''
  proc.stdout?.resume()
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
    raw += d
    partial += d
    let nl = partial.indexOf('\n')
    while (nl >= 0) {
      const line = partial.slice(0, nl)
      partial = partial.slice(nl + 1)
      nl = partial.indexOf('\n')
      try {
        logs.push(JSON.parse(line) as LogLine)
      } catch {
        // not a log line (e.g. the CLI's own error message)
      }
    }
  })
  const exited = new Promise<number | string>((resolve) =>
    proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  )
  const listening = await Promise.race([
    waitFor(() => logs.find((l) => l.msg === 'listening'), timeoutMs, 'the daemon to listen'),
    exited.then((code) => {
      throw new Error(`the daemon exited (${code}) before listening:\n${raw}`)
    }),
  ])
  const url = String(listening['url'])
  return {
    url,
    port: Number(new URL(url).port),
    proc,
    logs,
    stderr: () => raw,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal)
      return exited
    },
    exited,
  }
}

/** POSTs a JSON (or raw) body and returns status and parsed body. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = text
  }
  return { status: res.status, body: parsed, text }
}

/** An STK callback body as Daraja sends it (GATEWAYS.md §1.3). */
export function stkCallback(
  checkoutRequestId: string,
  opts: { resultCode?: number; amount?: string; receipt?: string; phone?: string } = {},
): Record<string, unknown> {
  const code = opts.resultCode ?? 0
  return {
    Body: {
      stkCallback: {
        MerchantRequestID: '29115-34620561-1',
        CheckoutRequestID: checkoutRequestId,
        ResultCode: code,
        ResultDesc: code === 0 ? 'The service request is processed successfully.' : 'Failed',
        ...(code === 0
          ? {
              CallbackMetadata: {
                Item: [
                  { Name: 'Amount', Value: Number(opts.amount ?? '100') },
                  { Name: 'MpesaReceiptNumber', Value: opts.receipt ?? 'QTEST00001' },
                  { Name: 'Balance' },
                  { Name: 'TransactionDate', Value: 20261126101500 },
                  { Name: 'PhoneNumber', Value: Number(opts.phone ?? '254712345678') },
                ],
              },
            }
          : {}),
      },
    },
  }
}
