import { execFileSync, spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, startDaemon } from '../daemon/helpers.js'
import { DSH_BIN, dsh } from '../helpers/cli.js'
import { runInProcess } from '../helpers/run-cli.js'
import { tempHome } from '../helpers/temp-home.js'
import { waitFor } from '../helpers/wait.js'

const home = tempHome()
const env = { DSH_HOME: home.home }
const run = (...args: string[]) => runInProcess(args, { env })
const session = `dsh-small-${process.pid}`
// A tmux server of this file's own (a socket per file), kept up by an idle session, so killing
// a test's session never races with other files' sessions or the server's exit.
const socket = `dsh-${process.pid}-small`
const tmux = (...args: string[]) =>
  execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' })

async function screenWhen(predicate: (s: string) => boolean, ms = 8_000): Promise<string> {
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
  for (const args of [
    ['init'],
    ['tenant', 'add', 'acme', '--name', 'Acme'],
    ['branch', 'add', 'karen', '--tenant', 'acme', '--name', 'Karen', '--currency', 'KES'],
    ['gateway', 'setup', 'cash', '--branch', 'karen'],
  ])
    expect((await run(...args)).code).toBe(0)
})
afterAll(() => {
  try {
    tmux('kill-server')
  } catch {}
  try {
    tmux('kill-session', '-t', session)
  } catch {}
  home.cleanup()
})

describe('the small things (issue 13)', () => {
  it('T=$(dsh token create …) holds exactly a working token', async () => {
    const sh = spawnSync(
      'bash',
      [
        '-c',
        `T=$("${process.execPath}" "${DSH_BIN}" token create --name x --role viewer) && printf '%s' "$T"`,
      ],
      { env: { ...process.env, ...env, NO_COLOR: '1' }, encoding: 'utf8' },
    )
    expect(sh.status).toBe(0)
    const token = sh.stdout
    expect(token).toMatch(/^dsh_[A-Za-z0-9_-]+$/)
    expect(sh.stderr).toContain('Copy it now')
    const port = await freePort()
    const daemon = await startDaemon(env, [
      '--port',
      String(port),
      '--public-url',
      `http://127.0.0.1:${port}`,
    ])
    try {
      const ok = await fetch(`${daemon.url}/api/branches/karen/payment-gateways`, {
        headers: { authorization: `Bearer ${token}` },
      })
      expect(ok.status).toBe(200)
      const wrong = await fetch(`${daemon.url}/api/branches/karen/payment-gateways`, {
        headers: { authorization: `Bearer ${token}x` },
      })
      expect(wrong.status).toBe(401)
    } finally {
      expect(await daemon.stop()).toBe(0)
    }
  }, 30_000)

  it('config get prints the bare value', async () => {
    expect((await run('config', 'set', 'public-url', 'https://pay.example.co.ke')).code).toBe(0)
    const r = await run('config', 'get', 'public-url')
    expect(r.stdout).toBe('https://pay.example.co.ke\n')
  })

  it('gateway test cash is 0: nothing to test', async () => {
    const r = await run('gateway', 'test', 'cash', '--branch', 'karen')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(
      'cash of karen: nothing to test: cash payments are recorded without a gateway\n',
    )
  })

  it('pay takes the branch currency when --currency is not given', async () => {
    const r = await run('pay', '--branch', 'karen', '--amount', '250', '--method', 'cash', '--json')
    expect(r.code).toBe(0)
    expect(r.json<{ currency: string; amountMinor: number }>()).toMatchObject({
      currency: 'KES',
      amountMinor: 25000,
    })
    // A missing amount is still a usage error, before the branch is looked up.
    const missing = await run('pay', '--branch', 'nowhere', '--method', 'cash')
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('--amount')
  })

  it('gateway show uses human labels; payments show names the gateway’s reference', async () => {
    const r = await run(
      'gateway',
      'setup',
      'mpesa',
      '--branch',
      'karen',
      '--account-type',
      'till',
      '--shortcode',
      '174379',
      '--till-number',
      '5123456',
      '--passkey',
      'pk1234',
      '--consumer-key',
      'ck1234',
      '--consumer-secret',
      'cs1234',
    )
    expect(r.code).toBe(0)
    const show = await run('gateway', 'show', 'mpesa', '--branch', 'karen')
    expect(show.stdout).toContain('Account type:')
    expect(show.stdout).toContain('Till number:')
    expect(show.stdout).not.toMatch(/^accountType:/m)
    expect(show.stdout).not.toMatch(/^consumerKey:/m)
    const json = await run('gateway', 'show', 'mpesa', '--branch', 'karen', '--json')
    expect(json.json<{ settings: Record<string, string> }>().settings['accountType']).toBe('till')
    const { gatewayRefLabel } = await import('../../commands/pay.js')
    expect(gatewayRefLabel('stripe')).toBe('Payment intent')
    expect(gatewayRefLabel('mpesa')).toBe('Checkout request')
  })

  it('a closed stdout (dsh --help | head -1) is a quiet exit 0', () => {
    // `| true` closes the pipe before dsh writes, so EPIPE is certain (without the handler: exit 1
    // and a stack trace, checked by hand); `| head -c 1` is the everyday case.
    for (const [args, reader] of [
      ['--help', 'true'],
      ['payments list --all', 'true'],
      ['help pay', 'head -c 1 >/dev/null'],
    ]) {
      const sh = spawnSync(
        'bash',
        [
          '-c',
          `"${process.execPath}" "${DSH_BIN}" ${args} | ${reader}; echo "rc=\${PIPESTATUS[0]}"`,
        ],
        { env: { ...process.env, ...env, NO_COLOR: '1' }, encoding: 'utf8' },
      )
      expect(sh.stdout).toBe('rc=0\n')
      expect(sh.stderr).toBe('')
    }
  })

  it('declining a confirmation prints `cancelled, nothing changed` and exits 130 (tmux)', async () => {
    const cmd = `DSH_HOME=${home.home} ${process.execPath} ${DSH_BIN} gateway remove cash --branch karen; echo "EXIT=$?"; sleep 30`
    tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '20', cmd)
    await screenWhen((s) => s.includes('?'))
    tmux('send-keys', '-t', session, 'n', 'Enter')
    const screen = await screenWhen((s) => s.includes('EXIT='))
    tmux('kill-session', '-t', session)
    expect(screen).toContain('cancelled, nothing changed')
    expect(screen).toContain('EXIT=130')
    const still = await dsh(['gateway', 'show', 'cash', '--branch', 'karen'], { env })
    expect(still.code).toBe(0)
  }, 20_000)
})
