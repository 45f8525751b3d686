import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.js'
import { secretContext } from '../../src/gateway-config/view.js'
import { SANDBOX_PASSKEY, type Sandbox, startSandbox } from '../../src/sandbox/index.js'
import { unseal } from '../../src/vault/vault.js'
import { DSH_BIN, dsh } from '../helpers/cli.js'
import { runInProcess, testRuntime } from '../helpers/run-cli.js'
import { tempHome } from '../helpers/temp-home.js'
import { waitFor } from '../helpers/wait.js'

// Must hold (issue 13): `gateway setup mpesa` with no flags on a real terminal (tmux), answered
// with the sandbox values and one wrong shortcode on the way, ends in a configuration that
// `gateway test` accepts and that equals the one made with flags.
const home = tempHome()
const session = `dsh-setup-${process.pid}`
// A tmux server of this file's own (a socket per file), kept up by an idle session, so killing
// a test's session never races with other files' sessions or the server's exit.
const socket = `dsh-${process.pid}-setup`
const tmux = (...args: string[]) =>
  execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' })
let sb: Sandbox

async function screenWhen(predicate: (s: string) => boolean, ms = 10_000): Promise<string> {
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

function start(args: string[], env = '') {
  const cmd = `${env} DSH_HOME=${home.home} ${process.execPath} ${DSH_BIN} ${args.join(' ')}; echo "EXIT=$?"; sleep 30`
  tmux('new-session', '-d', '-s', session, '-x', '150', '-y', '50', cmd)
}
const keys = (...k: string[]) => tmux('send-keys', '-t', session, ...k)

beforeAll(async () => {
  tmux('new-session', '-d', '-s', 'keep', 'sleep 600')
  sb = await startSandbox({ port: 0, callbackDelayMs: 50 })
  for (const args of [
    ['init'],
    ['tenant', 'add', 'acme', '--name', 'Acme'],
    ['branch', 'add', 'karen', '--tenant', 'acme', '--name', 'Karen', '--currency', 'KES'],
    ['branch', 'add', 'flags', '--tenant', 'acme', '--name', 'Flags', '--currency', 'KES'],
  ]) {
    expect((await runInProcess(args, { env: { DSH_HOME: home.home } })).code).toBe(0)
  }
})
afterAll(async () => {
  try {
    tmux('kill-server')
  } catch {}
  try {
    tmux('kill-session', '-t', session)
  } catch {}
  await sb.close()
  home.cleanup()
})

/** The stored configuration of a branch: settings, decrypted secrets and fees. */
async function stored(branch: string) {
  const { rt } = testRuntime({ env: { DSH_HOME: home.home } })
  const app = createApp(rt, {})
  try {
    const store = await app.store()
    const row = await store.db
      .selectFrom('gateway_configs')
      .innerJoin('branches', 'branches.id', 'gateway_configs.branch_id')
      .selectAll('gateway_configs')
      .where('branches.code', '=', branch)
      .where('gateway_configs.type', '=', 'mpesa')
      .executeTakeFirstOrThrow()
    const secrets = JSON.parse(row.secrets) as Record<string, string>
    return {
      settings: JSON.parse(row.settings) as unknown,
      secrets: Object.fromEntries(
        Object.entries(secrets).map(([k, v]) => [k, unseal(app, v, secretContext(row.id, k))]),
      ),
      fees: [
        row.fee_currency,
        row.transaction_fee_bp,
        String(row.transaction_fee_flat_minor),
        row.conversion_fee_bp,
        String(row.settlement_fee_minor),
      ],
      enabled: row.enabled,
    }
  } finally {
    await app.close()
  }
}

describe('gateway setup prompts (tmux)', () => {
  it('asks every needed field in order, re-asks a bad shortcode, tests, and equals the flag path', async () => {
    start(['gateway', 'setup', 'mpesa', '--branch', 'karen'], `DSH_SANDBOX_URL=${sb.url}`)
    await screenWhen((s) => s.includes('Environment'))
    keys('Enter') // sandbox, the default
    await screenWhen((s) => s.includes('Account type (till/paybill)'))
    keys('Down', 'Enter') // paybill
    await screenWhen((s) => s.includes('Business shortcode'))
    keys('17a4379', 'Enter')
    await screenWhen((s) => s.includes('must be digits only'))
    keys('C-u')
    keys('174379', 'Enter')
    await screenWhen((s) => s.includes('Paybill number'))
    // Only the account type's own number is asked: never the till number.
    keys('174379', 'Enter')
    await screenWhen((s) => s.includes('Lipa na M-Pesa passkey'))
    keys(SANDBOX_PASSKEY, 'Enter')
    await screenWhen((s) => s.includes('Daraja consumer key'))
    keys('Enter') // an empty secret is refused and asked again
    await screenWhen((s) => s.includes('must not be empty'))
    keys('ck_prompted_1234', 'Enter')
    await screenWhen((s) => s.includes('Daraja consumer secret'))
    keys('cs_prompted_5678', 'Enter')
    // The base URL defaults to the local sandbox that answers on this machine.
    const urlScreen = await screenWhen((s) => s.includes('Base URL'))
    expect(urlScreen).toContain(sb.url)
    keys('Enter')
    const screen = await screenWhen((s) => s.includes('EXIT='))
    tmux('kill-session', '-t', session)
    expect(screen).not.toContain('Till number')
    expect(screen).toContain('configured mpesa')
    expect(screen).toContain('gateway test: mpesa credentials of karen ok')
    expect(screen).toContain('EXIT=0')
    expect(screen).not.toContain('ck_prompted')
    expect(screen).not.toContain(SANDBOX_PASSKEY)

    // The flag path with the same values.
    const f = (name: string, v: string) => {
      const p = join(home.home, name)
      writeFileSync(p, v)
      return p
    }
    const byFlags = await dsh(
      [
        'gateway',
        'setup',
        'mpesa',
        '--branch',
        'flags',
        '--environment',
        'sandbox',
        '--account-type',
        'paybill',
        '--shortcode',
        '174379',
        '--paybill-number',
        '174379',
        '--passkey-file',
        f('pk', SANDBOX_PASSKEY),
        '--consumer-key-file',
        f('ck', 'ck_prompted_1234'),
        '--consumer-secret-file',
        f('cs', 'cs_prompted_5678'),
        '--base-url',
        sb.url,
      ],
      { env: { DSH_HOME: home.home } },
    )
    expect(byFlags.stderr).toBe('')
    expect(byFlags.code).toBe(0)
    const prompted = await stored('karen')
    expect(prompted.secrets['consumerKey']).toBe('ck_prompted_1234')
    expect(prompted).toEqual(await stored('flags'))
    // And gateway test accepts it.
    const test = await dsh(['gateway', 'test', 'mpesa', '--branch', 'karen'], {
      env: { DSH_HOME: home.home },
    })
    expect(test.stderr).toBe('')
    expect(test.code).toBe(0)
  }, 60_000)

  it('without a terminal, names every missing flag at once and runs no test', async () => {
    const r = await dsh(['gateway', 'setup', 'mpesa', '--branch', 'karen', '--tenant', 'x'], {
      env: { DSH_HOME: home.home },
    })
    expect(r.code).toBe(2)
    const missing = await dsh(['gateway', 'setup', 'stripe', '--branch', 'flags'], {
      env: { DSH_HOME: home.home },
    })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('missing required flags: --secret-key, --webhook-secret')
  })
})
