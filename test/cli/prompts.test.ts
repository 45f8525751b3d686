import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DSH_BIN } from '../helpers/cli.js'
import { runInProcess } from '../helpers/run-cli.js'
import { tempHome } from '../helpers/temp-home.js'
import { waitFor } from '../helpers/wait.js'

// A real terminal: tmux runs bin/dsh, send-keys types, capture-pane reads the screen (.ci/run
// installs tmux when a machine lacks it).
const home = tempHome()
const session = `dsh-test-${process.pid}`
// Its own tmux server (a socket per file), kept up by an idle session: killing a test's session
// then never races with the server's exit or with other files' sessions.
const socket = `dsh-${process.pid}-prompts`
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

function start(args: string[]) {
  const cmd = `DSH_SANDBOX_URL=http://127.0.0.1:9 DSH_HOME=${home.home} ${process.execPath} ${DSH_BIN} ${args.join(' ')}; echo "EXIT=$?"; sleep 30`
  tmux('new-session', '-d', '-s', session, '-x', '150', '-y', '40', cmd)
}

beforeAll(async () => {
  tmux('new-session', '-d', '-s', 'keep', 'sleep 600')
  for (const args of [
    ['init'],
    ['tenant', 'add', 'acme', '--name', 'Acme'],
    ['branch', 'add', 'w', '--tenant', 'acme', '--name', 'W', '--currency', 'KES'],
  ]) {
    expect((await runInProcess(args, { env: { DSH_HOME: home.home } })).code).toBe(0)
  }
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

describe('prompts on a terminal', () => {
  it('asks for missing gateway fields, masks secrets, and never shows them', async () => {
    start(['gateway', 'setup', 'stripe', '--branch', 'w', '--no-test'])
    await screenWhen((s) => s.includes('Environment'))
    tmux('send-keys', '-t', session, 'Enter')
    await screenWhen((s) => s.includes('Stripe secret key'))
    tmux('send-keys', '-t', session, 'sk_test_PROMPTSECRET42', 'Enter')
    await screenWhen((s) => s.includes('Stripe webhook signing secret'))
    tmux('send-keys', '-t', session, 'whsec_PROMPTED17', 'Enter')
    await screenWhen((s) => s.includes('Base URL'))
    tmux('send-keys', '-t', session, 'Enter')
    const screen = await screenWhen((s) => s.includes('EXIT='))
    tmux('kill-session', '-t', session)
    expect(screen).toContain('EXIT=0')
    expect(screen).toContain('configured stripe')
    expect(screen).toContain('••••••••ET42')
    expect(screen).not.toContain('PROMPTSECRET')
    expect(screen).not.toContain('whsec_PROMPTED')
  })

  it('refuses a control character in a typed name and asks again (issue 22)', async () => {
    start(['tenant', 'add', 'zed'])
    await screenWhen((s) => s.includes('Tenant name'))
    // U+0085 (NEL) is a C1 control character that a terminal passes through as typed.
    tmux('send-keys', '-t', session, '-l', 'Zed\u0085Ltd')
    tmux('send-keys', '-t', session, 'Enter')
    await screenWhen((s) => s.includes('contains a control character (U+0085 at character 4)'))
    tmux('send-keys', '-t', session, 'C-u')
    tmux('send-keys', '-t', session, '-l', 'Zed Ltd')
    tmux('send-keys', '-t', session, 'Enter')
    const screen = await screenWhen((s) => s.includes('EXIT='))
    tmux('kill-session', '-t', session)
    expect(screen).toContain('added tenant zed (Zed Ltd, KES, Africa/Nairobi)')
    expect(screen).toContain('EXIT=0')
  })

  it('offers the choices of an enum field', async () => {
    start(['branch', 'add', 'k', '--tenant', 'acme', '--name', 'K'])
    await screenWhen((s) => s.includes('Currency'))
    tmux('send-keys', '-t', session, 'Down', 'Enter')
    const screen = await screenWhen((s) => s.includes('EXIT='))
    tmux('kill-session', '-t', session)
    expect(screen).toContain('EXIT=0')
    expect(screen).toContain('UGX')
  })
})
