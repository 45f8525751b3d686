import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { PassThrough } from 'node:stream'
import { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { createContext } from '../../commands/context.js'
import { sandboxCommand } from '../../commands/sandbox.js'
import { runCli } from '../../src/cli/run.js'
import type { Runtime } from '../../src/cli/runtime.js'
import { ulidGen } from '../../src/core/ids.js'
import { waitUntil } from '../gateways/helpers.js'

/** Runs `dsh sandbox …` in this process; `signals` stands in for the process's signals. */
function start(args: string[]) {
  const out = { stdout: '', stderr: '' }
  const stdin = new PassThrough()
  stdin.end()
  const rt: Runtime = {
    env: { NO_COLOR: '1', DSH_HOME: '/nonexistent/dsh-sandbox-test' },
    stdout: { write: (s: string) => (out.stdout += s) },
    stderr: { write: (s: string) => (out.stderr += s) },
    stdin,
    stdinIsTTY: false,
    stdoutIsTTY: false,
    stderrIsTTY: false,
    clock: { now: () => new Date() },
    ids: ulidGen(Date.now, (n) => randomBytes(n)),
    user: 'tester',
  }
  const signals = new EventEmitter()
  const build = (r: Runtime) => {
    const program = new Command('dsh').option('--json').option('--verbose').exitOverride()
    program.addCommand(sandboxCommand(createContext(r), signals).exitOverride())
    return program
  }
  const done = runCli(rt, ['sandbox', ...args], build)
  return { out, signals, done }
}

describe('dsh sandbox', () => {
  it('prints the URL and the magic values on stderr, logs requests with --verbose, stops on SIGTERM', async () => {
    const s = start(['--port', '0', '--callback-delay', '20', '--verbose'])
    await waitUntil(() => s.out.stderr.includes('listening on'), 5_000, 'the sandbox to start')
    const url = /listening on (http:\/\/\S+)/.exec(s.out.stderr)![1]!
    expect(s.out.stderr).toContain('0700001032')
    expect(s.out.stderr).toContain('pm_card_chargeDeclined')
    const magic = await fetch(`${url}/__control/magic`)
    expect(magic.status).toBe(200)
    await waitUntil(
      () => s.out.stderr.includes('GET /__control/magic → 200'),
      2_000,
      'the request log line',
    )
    expect(s.out.stdout).toBe('')
    s.signals.emit('SIGTERM')
    expect(await s.done).toBe(0)
    expect(s.out.stderr).toContain('stopped (SIGTERM)')
    await expect(fetch(`${url}/__control/magic`)).rejects.toThrow()
    expect(s.signals.listenerCount('SIGINT') + s.signals.listenerCount('SIGTERM')).toBe(0)
  })

  it('with --json prints {url, port} on stdout', async () => {
    const s = start(['--port', '0', '--json'])
    await waitUntil(() => s.out.stdout.includes('}'), 5_000, 'the JSON line')
    const { url, port } = JSON.parse(s.out.stdout) as { url: string; port: number }
    expect(url).toBe(`http://127.0.0.1:${port}`)
    s.signals.emit('SIGINT')
    expect(await s.done).toBe(0)
  })

  it('refuses a non-loopback host (exit 3) and a bad port (exit 2)', async () => {
    expect(await start(['--host', '0.0.0.0', '--port', '0']).done).toBe(3)
    const bad = start(['--port', 'eighty'])
    expect(await bad.done).toBe(2)
    expect(bad.out.stderr).toContain('--port')
  })
})
