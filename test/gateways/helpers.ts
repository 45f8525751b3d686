import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { expect } from 'vitest'
import { DshError } from '../../src/core/errors.js'
import type { GatewayOutcome } from '../../src/core/payments/gateway-port.js'
import type { Clock } from '../../src/core/ports.js'
import { createGatewayDeps, type GatewayDeps } from '../../src/gateways/index.js'
import { type Sandbox, type SandboxOptions, startSandbox } from '../../src/sandbox/index.js'
import { waitFor } from '../helpers/wait.js'

export interface Received {
  path: string
  headers: IncomingHttpHeaders
  body: string
}

/** A tiny callback receiver: records every POST and answers 200 like the daemon would. */
export interface Receiver {
  url(path?: string): string
  received: Received[]
  /** Waits until at least `n` requests arrived on `path` (all paths when omitted). */
  waitFor(n: number, path?: string, timeoutMs?: number): Promise<Received[]>
  close(): Promise<void>
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => {
      body += c
    })
    req.on('end', () => {
      received.push({ path: req.url ?? '/', headers: req.headers, body })
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"ResultCode":0,"ResultDesc":"Accepted"}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const on = (path?: string) => received.filter((r) => path === undefined || r.path === path)
  return {
    url: (path = '/cb') => `${base}${path}`,
    received,
    async waitFor(n, path, timeoutMs = 5_000) {
      await waitUntil(
        () => on(path).length >= n,
        timeoutMs,
        `${n} callback(s) on ${path ?? 'any path'}`,
      )
      return on(path)
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

export async function waitUntil(
  check: () => boolean,
  timeoutMs = 5_000,
  what = 'a condition',
): Promise<void> {
  await waitFor(check, timeoutMs, what, 10)
}

/** A sandbox, a receiver and adapter deps with a 1 s read timeout; `close()` ends them all. */
export interface World {
  sb: Sandbox
  rx: Receiver
  deps: GatewayDeps
  close(): Promise<void>
}

export async function startWorld(
  options: SandboxOptions = {},
  clock: Clock = { now: () => new Date() },
): Promise<World> {
  const sb = await startSandbox({ callbackDelayMs: 40, lateCallbackMs: 700, ...options })
  const rx = await startReceiver()
  const deps = createGatewayDeps(clock, { readTimeoutMs: 1_000, connectTimeoutMs: 1_000 })
  return {
    sb,
    rx,
    deps,
    async close() {
      await deps.http.close()
      await sb.close()
      await rx.close()
    },
  }
}

/** A loopback port with nothing listening on it. */
export async function deadPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

export async function dshErrorOf(fn: () => unknown): Promise<DshError> {
  try {
    await fn()
  } catch (e) {
    expect(e).toBeInstanceOf(DshError)
    return e as DshError
  }
  throw new Error('expected a DshError, but nothing was thrown')
}

/** The parts of an outcome the router acts on. */
export function shape(o: GatewayOutcome) {
  return o.status === 'failed'
    ? {
        status: o.status,
        kind: o.kind,
        gatewayFault: o.gatewayFault,
        cancelled: o.cancelled === true,
        code: o.code,
      }
    : { status: o.status, code: o.code }
}

export const SANDBOX_MPESA = {
  settings: { environment: 'sandbox', accountType: 'paybill', shortcode: '174379' },
  secrets: {
    passkey: 'bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919',
    consumerKey: 'sandbox-key',
    consumerSecret: 'sandbox-secret',
  },
}
