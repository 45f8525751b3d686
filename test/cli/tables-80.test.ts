import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js'
import { freePort, type RunningDaemon, startDaemon, waitFor } from '../daemon/helpers.js'
import { DSH_BIN } from '../helpers/cli.js'
import { runInProcess } from '../helpers/run-cli.js'
import { tempHome } from '../helpers/temp-home.js'

// Must hold (issue 13): every human table of the commands in the README fits in 80 columns on a
// real terminal (tmux at 80 columns, COLUMNS=80) and keeps the same rows at 200.
const home = tempHome()
const env = { DSH_HOME: home.home }
const run = (...args: string[]) => runInProcess(args, { env })
const session = `dsh-tables-${process.pid}`
// A tmux server of this file's own (a socket per file), kept up by an idle session, so killing
// a test's session never races with other files' sessions or the server's exit.
const socket = `dsh-${process.pid}-tables`
const tmux = (...args: string[]) =>
  execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' })
let sb: Sandbox
let paymentId = ''
let daemon: RunningDaemon | undefined

/** Runs `dsh <args>` on a terminal `width` columns wide; returns the screen's lines, joined. */
async function onTerminal(args: string[], width: number): Promise<string[]> {
  const cmd = `COLUMNS=${width} DSH_HOME=${home.home} ${process.execPath} ${DSH_BIN} ${args.join(' ')}; echo "__EXIT=$?"; sleep 30`
  tmux('new-session', '-d', '-s', session, '-x', String(width), '-y', '300', cmd)
  try {
    let screen = ''
    const ended = () => {
      // -J joins lines the terminal wrapped, so a too-wide line shows as one long line.
      screen = tmux('capture-pane', '-t', session, '-p', '-J')
      const lines = screen.split('\n')
      const end = lines.findIndex((l) => l.startsWith('__EXIT='))
      return end >= 0 ? { lines, end } : undefined
    }
    const { lines, end } = await waitFor(ended, 15_000, 'the command to end', 100).catch(() => {
      throw new Error(`no end:\n${screen}`)
    })
    expect(lines[end]).toBe('__EXIT=0')
    return lines.slice(0, end).map((l) => l.replace(/\s+$/, ''))
  } finally {
    tmux('kill-session', '-t', session)
  }
}

beforeAll(async () => {
  tmux('new-session', '-d', '-s', 'keep', 'sleep 600')
  sb = await startSandbox({ port: 0, callbackDelayMs: 10 })
  const setup: string[][] = [
    ['init'],
    ['tenant', 'add', 'acme', '--name', 'Acme Restaurants of East Africa Limited'],
    [
      'tenant',
      'add',
      'nile',
      '--name',
      'Nile Foods',
      '--currency',
      'UGX',
      '--timezone',
      'Africa/Kampala',
    ],
    [
      'branch',
      'add',
      'westlands',
      '--tenant',
      'acme',
      '--name',
      'Westlands Sarit Centre Food Court',
      '--currency',
      'KES',
      '--tax-rate',
      '16',
      '--tips',
    ],
    [
      'branch',
      'add',
      'kampala-road',
      '--tenant',
      'nile',
      '--name',
      'Kampala Road',
      '--currency',
      'UGX',
    ],
    ['gateway', 'setup', 'cash', '--branch', 'westlands'],
    ['gateway', 'setup', 'cash', '--branch', 'kampala-road'],
    [
      'gateway',
      'setup',
      'mpesa',
      '--branch',
      'westlands',
      '--account-type',
      'paybill',
      '--shortcode',
      '174379',
      '--paybill-number',
      '174379',
      '--passkey',
      'bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919',
      '--consumer-key',
      'ck123456',
      '--consumer-secret',
      'cs123456',
      '--base-url',
      sb.url,
    ],
    [
      'token',
      'create',
      '--name',
      'pos-westlands-front-counter',
      '--role',
      'operator',
      '--tenant',
      'acme',
    ],
    ['token', 'create', '--name', 'grafana', '--role', 'viewer'],
  ]
  for (const args of setup) {
    const r = await run(...args)
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
  }
  for (let i = 0; i < 6; i++) {
    const r = await run(
      'pay',
      '--branch',
      'westlands',
      '--amount',
      `${1_234_567 + i}.50`,
      '--method',
      'cash',
      '--order',
      `ORDER-WESTLANDS-2026-11-29-LUNCH-${i}`,
      '--json',
    )
    expect(r.code, r.stderr).toBe(0)
    paymentId = r.json<{ id: string }>().id
  }
  // A daemon receives the sandbox's callbacks, so `callbacks list` has rows.
  const port = await freePort()
  daemon = await startDaemon(env, [
    '--port',
    String(port),
    '--public-url',
    `http://127.0.0.1:${port}`,
  ])
  const m = await run(
    'pay',
    '--branch',
    'westlands',
    '--amount',
    '1500',
    '--phone',
    '0712345678',
    '--json',
  )
  expect(m.code, m.stderr).toBe(0)
  await waitFor(
    async () =>
      (await run('callbacks', 'list', '--json')).json<unknown[]>().length > 0 ? true : undefined,
    15_000,
    'a callback in the inbox',
  )
  expect(
    (await run('pay', '--branch', 'kampala-road', '--amount', '25000', '--method', 'cash')).code,
  ).toBe(0)
}, 60_000)
afterAll(async () => {
  try {
    tmux('kill-server')
  } catch {}
  await daemon?.stop()
  try {
    tmux('kill-session', '-t', session)
  } catch {}
  await sb.close()
  home.cleanup()
})

const TABLES: string[][] = [
  ['tenant', 'list'],
  ['branch', 'list'],
  ['gateway', 'list'],
  ['gateway', 'status'],
  ['payments', 'list'],
  ['payments', 'list', '--branch', 'westlands'],
  ['audit', 'list'],
  ['callbacks', 'list'],
  ['token', 'list'],
  ['route', 'show', '--branch', 'westlands'],
  [
    'route',
    'explain',
    '--branch',
    'westlands',
    '--amount',
    '1500',
    '--currency',
    'KES',
    '--method',
    'mpesa',
  ],
  ['migrate', 'status'],
]

describe('tables on a terminal', () => {
  it.each(TABLES.map((t) => [t.join(' '), t] as const))(
    '%s fits 80 columns and keeps its rows at 200',
    async (_name, args) => {
      const narrow = await onTerminal(args, 80)
      const wide = await onTerminal(args, 200)
      for (const line of narrow)
        expect(line.length, `too wide at 80:\n${line}`).toBeLessThanOrEqual(80)
      // A header line and at least one row: never an empty table's message.
      expect(narrow.length).toBeGreaterThan(1)
      // The same rows, in the same order: each row starts with the same first cell.
      const first = (lines: string[]) => lines.map((l) => l.split(/\s{2,}/)[0]?.replace(/…$/, ''))
      expect(first(narrow)).toEqual(first(wide))
      expect(narrow.join('\n')).not.toContain('┌')
      expect(narrow.join('\n')).not.toContain('─')
    },
    40_000,
  )

  it('payments show fits 80 columns', async () => {
    const lines = await onTerminal(['payments', 'show', paymentId], 80)
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(80)
  }, 40_000)

  it('--wide keeps every column, money is right-aligned with its currency, and a total is shown', async () => {
    const narrow = await onTerminal(['payments', 'list', '--branch', 'westlands'], 80)
    const wide = await onTerminal(['payments', 'list', '--branch', 'westlands', '--wide'], 80)
    expect(narrow[0]).not.toContain('Method')
    expect(wide[0]).toContain('Method')
    expect(wide[0]).toContain('Receipt')
    const amounts = narrow.slice(1).filter((l) => l.includes('KES') && !l.startsWith('Total'))
    expect(amounts.length).toBeGreaterThan(0)
    // Right-aligned: every amount ends in the same column.
    const endCols = new Set(
      amounts.map((l) => /KES [\d,]+\.\d\d/.exec(l)).map((m) => (m ? m.index + m[0].length : -1)),
    )
    expect(endCols.size, amounts.join('\n')).toBe(1)
    expect(narrow.join('\n')).toContain('Total succeeded: KES ')
  }, 40_000)
})
