import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js'
import { DSH_BIN, dsh } from '../helpers/cli.js'
import { runInProcess } from '../helpers/run-cli.js'
import { tempHome } from '../helpers/temp-home.js'
import { waitFor } from '../helpers/wait.js'

// Issue 13: a wait shows what it waits for on a terminal's stderr, and clears it when done;
// nothing of it in pipes or with --json.
const home = tempHome()
const env = { DSH_HOME: home.home }
const socket = `dsh-${process.pid}-progress`
const tmux = (...args: string[]) =>
  execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' })
let sb: Sandbox

async function screenWhen(
  session: string,
  predicate: (s: string) => boolean,
  ms = 15_000,
): Promise<string> {
  let screen = ''
  const matched = () => {
    screen = tmux('capture-pane', '-t', session, '-p')
    return predicate(screen) ? screen : undefined
  }
  return waitFor(matched, ms, 'the screen to match', 100).catch(() => {
    throw new Error(`screen never matched; last screen:
${screen}`)
  })
}

beforeAll(async () => {
  tmux('new-session', '-d', '-s', 'keep', 'sleep 600')
  // The simulated customer answers after 2.5 s: long enough to see the wait.
  sb = await startSandbox({ port: 0, callbackDelayMs: 2_500 })
  for (const args of [
    ['init'],
    ['tenant', 'add', 'acme', '--name', 'Acme'],
    ['branch', 'add', 'karen', '--tenant', 'acme', '--name', 'Karen', '--currency', 'KES'],
    [
      'gateway',
      'setup',
      'mpesa',
      '--branch',
      'karen',
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
  ])
    expect((await runInProcess(args, { env })).code).toBe(0)
})
afterAll(async () => {
  try {
    tmux('kill-server')
  } catch {}
  await sb.close()
  home.cleanup()
})

const payArgs = (phone: string) => [
  'pay',
  '--branch',
  'karen',
  '--amount',
  '100',
  '--phone',
  phone,
  '--wait',
  '--timeout',
  '20s',
]

describe('progress on waits', () => {
  it('pay --wait on a terminal says what it waits for, counting, and clears it', async () => {
    const cmd = `DSH_HOME=${home.home} ${process.execPath} ${DSH_BIN} ${payArgs('0712345678').join(' ')}; echo "EXIT=$?"; sleep 30`
    tmux('new-session', '-d', '-s', 'pay', '-x', '120', '-y', '30', cmd)
    const during = await screenWhen('pay', (s) => /waiting for the customer \([12] s\)/.test(s))
    expect(during).toContain('STK push sent to 2547******78 — waiting for the customer (')
    const after = await screenWhen('pay', (s) => s.includes('EXIT='))
    tmux('kill-session', '-t', 'pay')
    expect(after).toContain('EXIT=0')
    expect(after).toContain('succeeded')
    expect(after).not.toContain('waiting for the customer')
  }, 40_000)

  it('--json on a terminal shows no progress', async () => {
    const cmd = `DSH_HOME=${home.home} ${process.execPath} ${DSH_BIN} ${payArgs('0712345679').join(' ')} --json; echo "EXIT=$?"; sleep 30`
    tmux('new-session', '-d', '-s', 'json', '-x', '120', '-y', '60', cmd)
    // Until the command ends, no screen shows the progress line.
    let seen = false
    const end = await waitFor(
      () => {
        const s = tmux('capture-pane', '-t', 'json', '-p')
        if (s.includes('waiting for')) seen = true
        return s.includes('EXIT=') ? s : undefined
      },
      20_000,
      'dsh pay --json to end',
      100,
    )
    expect(end).toContain('EXIT=0')
    tmux('kill-session', '-t', 'json')
    expect(seen).toBe(false)
  }, 40_000)

  it('piped: nothing of it on stderr', async () => {
    const r = await dsh(payArgs('0712345670'), { env, timeoutMs: 30_000 })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toBe('')
  }, 40_000)
})
