import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect } from 'vitest'
import { type App, createApp } from '../../src/app.js'
import { SANDBOX_PASSKEY, type Sandbox, startSandbox } from '../../src/sandbox/index.js'
import { useStoreEnv } from './dialects.js'
import { type InProcessResult, runInProcess, testRuntime } from './run-cli.js'

export interface PaymentsEnv {
  sandbox: Sandbox
  /** CLI in-process against this store. */
  run(...args: string[]): Promise<InProcessResult>
  /** A long-lived App for driving services directly (one store connection, as the daemon has). */
  app: App
  home: string
  db: string
}

/**
 * A store with tenant `acme`, branches `westlands` (KES, M-Pesa + KCB + Stripe + cash against the
 * sandbox) and `karen` (KES, M-Pesa only), and an in-process sandbox on a random port.
 */
export function usePaymentsEnv(
  dialect: 'sqlite' | 'postgres' = 'sqlite',
  sandboxOptions: { callbackDelayMs?: number; slowAnswerMs?: number } = {},
): PaymentsEnv {
  const s = useStoreEnv(dialect)
  const env = {} as PaymentsEnv
  beforeAll(async () => {
    env.sandbox = await startSandbox({
      callbackDelayMs: 100,
      slowAnswerMs: 2_500,
      ...sandboxOptions,
    })
    env.home = s.home
    env.db = s.db
    env.run = (...args: string[]) => runInProcess(args, { env: s.env })
    const put = (n: string, v: string) => {
      const p = join(s.home, n)
      writeFileSync(p, v)
      return p
    }
    const url = env.sandbox.url
    const mpesa = (branch: string) => [
      'gateway',
      'setup',
      'mpesa',
      '--branch',
      branch,
      '--account-type',
      'paybill',
      '--shortcode',
      '174379',
      '--paybill-number',
      '174379',
      '--passkey-file',
      put('pk', SANDBOX_PASSKEY),
      '--consumer-key-file',
      put('ck', 'sandboxConsumerKey1'),
      '--consumer-secret-file',
      put('cs', 'sandboxConsumerSecret1'),
      '--base-url',
      url,
      '--read-timeout',
      '1',
    ]
    for (const args of [
      ['init'],
      ['tenant', 'add', 'acme', '--name', 'Acme'],
      [
        'branch',
        'add',
        'westlands',
        '--tenant',
        'acme',
        '--name',
        'Westlands',
        '--currency',
        'KES',
      ],
      ['branch', 'add', 'karen', '--tenant', 'acme', '--name', 'Karen', '--currency', 'KES'],
      mpesa('westlands'),
      mpesa('karen'),
      [
        'gateway',
        'setup',
        'mpesa-kcb',
        '--branch',
        'westlands',
        '--api-key-file',
        put('kcb', 'kcbApiKey123'),
        '--external-origin',
        'biz-42',
        '--base-url',
        url,
        '--read-timeout',
        '1',
      ],
      [
        'gateway',
        'setup',
        'stripe',
        '--branch',
        'westlands',
        '--secret-key-file',
        put('sk', 'sk_test_sandbox123'),
        '--webhook-secret-file',
        put('wh', 'whsec_sandbox123'),
        '--base-url',
        url,
        '--read-timeout',
        '1',
        '--transaction-fee-rate',
        '2.9',
        '--transaction-fee-flat',
        '30',
      ],
      ['gateway', 'setup', 'cash', '--tenant', 'acme'],
    ]) {
      const r = await env.run(...args)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
    }
    env.app = createApp(testRuntime({ env: s.env }).rt, {})
  })
  afterAll(async () => {
    await env.app?.close()
    await env.sandbox?.close()
  })
  return env
}

/**
 * The M-Pesa secret flags of the set-up above: a new base URL keeps no stored secret, so a test
 * that points a branch elsewhere gives them again.
 */
export const mpesaSecretFlags = (home: string): string[] => [
  '--passkey-file',
  join(home, 'pk'),
  '--consumer-key-file',
  join(home, 'ck'),
  '--consumer-secret-file',
  join(home, 'cs'),
]
