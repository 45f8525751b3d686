import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess } from '../helpers/run-cli.js'

const PASSKEY = 'bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919'
const CK = 'CKtenant7Hq2LxZ9'
const CS = 'CStenant3Wm8PnV4'
const OWN_CK = 'CKkaren5Rt1YuE6o'

interface Row {
  tenant: string
  branch: string | null
  type: string
  source: string
  enabled: boolean
}

describe.each(DIALECTS)('gateway configuration on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('commands', () => {
    const s = useStoreEnv(name)
    const run = (...args: string[]) => runInProcess(args, { env: s.env })
    const file = (n: string, text: string) => {
      const p = join(s.home, n)
      writeFileSync(p, `${text}\n`)
      return p
    }
    const mpesaTenant = () => [
      'gateway',
      'setup',
      'mpesa',
      '--tenant',
      'acme',
      '--account-type',
      'paybill',
      '--shortcode',
      '174379',
      '--paybill-number',
      '174379',
      '--passkey-file',
      file('pk', PASSKEY),
      '--consumer-key-file',
      file('ck', CK),
      '--consumer-secret-file',
      file('cs', CS),
    ]

    it('sets up a tenant default and a branch override, and lists where each comes from', async () => {
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
      ])
        expect((await run(...args)).code).toBe(0)
      const t = await run(...mpesaTenant(), '--json')
      expect(t.code, t.stderr).toBe(0)
      expect(t.stderr).toBe('')
      const own = await run(
        'gateway',
        'setup',
        'mpesa',
        '--branch',
        'karen',
        '--account-type',
        'till',
        '--shortcode',
        '600100',
        '--till-number',
        '5551234',
        '--passkey-file',
        file('pk2', PASSKEY),
        '--consumer-key',
        OWN_CK,
        '--consumer-secret-file',
        file('cs2', CS),
        '--transaction-fee-rate',
        '1.5',
        '--transaction-fee-flat',
        '2.50',
        '--settlement-fee',
        '30',
      )
      expect(own.code, own.stderr).toBe(0)
      expect(own.stderr).toMatch(/warning: --consumer-key was given on the command line/)
      const rows = (await run('gateway', 'list', '--json')).json<Row[]>()
      expect(rows).toEqual([
        expect.objectContaining({ branch: null, type: 'mpesa', source: 'tenant' }),
        expect.objectContaining({ branch: 'karen', type: 'mpesa', source: 'branch' }),
        expect.objectContaining({ branch: 'westlands', type: 'mpesa', source: 'tenant' }),
      ])
      const w = (await run('gateway', 'list', '--branch', 'westlands', '--json')).json<Row[]>()
      expect(w).toEqual([expect.objectContaining({ branch: 'westlands', source: 'tenant' })])
    })

    it('shows the configuration in force with secrets masked to their last 4 characters', async () => {
      const show = await run('gateway', 'show', 'mpesa', '--branch', 'karen', '--json')
      expect(show.code).toBe(0)
      const g = show.json<{
        source: string
        settings: Record<string, string>
        secrets: Record<string, string>
        fees: Record<string, unknown>
      }>()
      expect(g.source).toBe('branch')
      expect(g.settings).toMatchObject({
        accountType: 'till',
        shortcode: '600100',
        tillNumber: '5551234',
        environment: 'sandbox',
      })
      expect(g.secrets).toEqual({
        passkey: '••••••••c919',
        consumerKey: `••••••••${OWN_CK.slice(-4)}`,
        consumerSecret: `••••••••${CS.slice(-4)}`,
      })
      expect(g.fees).toMatchObject({
        currency: 'KES',
        transactionFeeRateBp: 150,
        transactionFeeFlatMinor: 250,
        transactionFeeFlat: '2.50',
        settlementFeeMinor: 3000,
        settlementFee: '30.00',
      })
      const inherited = (
        await run('gateway', 'show', 'mpesa', '--branch', 'westlands', '--json')
      ).json<{ source: string; branch: string }>()
      expect(inherited).toMatchObject({ source: 'tenant', branch: 'westlands' })
      expect((await run('gateway', 'show', 'stripe', '--branch', 'westlands')).code).toBe(4)
    })

    it('edits keep the secrets that are not given again', async () => {
      const r = await run(
        'gateway',
        'setup',
        'mpesa',
        '--branch',
        'karen',
        '--transaction-fee-rate',
        '2',
        '--json',
      )
      expect(r.code, r.stderr).toBe(0)
      expect(
        r.json<{ secrets: Record<string, string>; fees: { transactionFeeRateBp: number } }>(),
      ).toMatchObject({
        secrets: { consumerKey: `••••••••${OWN_CK.slice(-4)}` },
        fees: { transactionFeeRateBp: 200 },
      })
    })

    it('lists every missing flag at once without a terminal (exit 2)', async () => {
      const r = await run('gateway', 'setup', 'stripe', '--branch', 'westlands')
      expect(r.code).toBe(2)
      expect(r.stderr).toContain('--secret-key, --webhook-secret')
      const m = await run(
        'gateway',
        'setup',
        'mpesa',
        '--branch',
        'westlands',
        '--account-type',
        'till',
      )
      expect(m.code).toBe(2)
      expect(m.stderr).toContain(
        '--shortcode, --till-number, --passkey, --consumer-key, --consumer-secret',
      )
    })

    it('refuses bad input with the right exit code', async () => {
      const base = [
        'gateway',
        'setup',
        'mpesa',
        '--branch',
        'westlands',
        '--account-type',
        'till',
        '--till-number',
        '123',
        '--passkey-file',
        file('pk3', PASSKEY),
        '--consumer-key-file',
        file('ck3', CK),
        '--consumer-secret-file',
        file('cs3', CS),
      ]
      expect((await run(...base, '--shortcode', '17A379')).code).toBe(3)
      expect(
        (
          await run(
            ...base,
            '--shortcode',
            '174379',
            '--environment',
            'production',
            '--base-url',
            'http://api.example.com',
          )
        ).code,
      ).toBe(3)
      expect((await run(...base, '--shortcode', '174379', '--environment', 'staging')).code).toBe(3)
      expect(
        (await run(...base, '--shortcode', '174379', '--transaction-fee-rate', '25')).code,
      ).toBe(3)
      expect(
        (await run(...base, '--shortcode', '174379', '--transaction-fee-flat', '1.234')).code,
      ).toBe(3)
      expect((await run(...base, '--shortcode', '174379', '--location-id', 'L1')).code).toBe(2)
      expect((await run('gateway', 'setup', 'paypal', '--branch', 'westlands')).code).toBe(2)
      expect(
        (await run('gateway', 'setup', 'cash', '--branch', 'westlands', '--tenant', 'acme')).code,
      ).toBe(2)
      expect((await run('gateway', 'setup', 'cash', '--branch', 'nowhere')).code).toBe(4)
      const kcb = await run(
        'gateway',
        'setup',
        'mpesa-kcb',
        '--branch',
        'westlands',
        '--api-key-file',
        file('ak', 'kcbKEY123456'),
        '--external-origin',
        'biz-1',
        '--currencies',
        'KES,XYZ',
      )
      expect(kcb.code).toBe(3)
      expect(kcb.stderr).toContain('XYZ')
    })

    it('warns that KCB currencies other than KES are the operator’s claim', async () => {
      const r = await run(
        'gateway',
        'setup',
        'mpesa-kcb',
        '--tenant',
        'acme',
        '--api-key-file',
        file('ak2', 'kcbKEY123456'),
        '--external-origin',
        'biz-1',
        '--currencies',
        'KES,UGX',
        '--high-value-threshold',
        '10,000',
        '--json',
      )
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toMatch(/KES only/)
      expect(r.json<{ settings: Record<string, string> }>().settings).toMatchObject({
        currencies: 'KES,UGX',
        highValueThreshold: '10000.00',
      })
    })

    it('enables, disables and removes only a configuration of its own', async () => {
      expect((await run('gateway', 'disable', 'mpesa', '--branch', 'westlands')).code).toBe(4)
      const d = await run('gateway', 'disable', 'mpesa', '--branch', 'karen', '--json')
      expect(d.json<{ enabled: boolean }>().enabled).toBe(false)
      expect(
        (await run('gateway', 'list', '--branch', 'karen', '--json')).json<Row[]>()[0]?.enabled,
      ).toBe(false)
      expect(
        (await run('gateway', 'enable', 'mpesa', '--branch', 'karen', '--json')).json<{
          enabled: boolean
        }>().enabled,
      ).toBe(true)
      expect((await run('gateway', 'setup', 'cash', '--branch', 'karen')).code).toBe(0)
      expect((await run('gateway', 'remove', 'cash', '--branch', 'karen')).code).toBe(2)
      expect((await run('gateway', 'remove', 'cash', '--branch', 'karen', '--yes')).code).toBe(0)
      expect((await run('gateway', 'show', 'cash', '--branch', 'karen')).code).toBe(4)
    })

    it('migrates tenant defaults down to branches, with a backup, once', async () => {
      const dry = (
        await run('gateway', 'migrate', '--tenant', 'acme', '--dry-run', '--json')
      ).json<{ copied: { branch: string; type: string }[]; backup: string | null }>()
      expect(dry.copied).toEqual(
        expect.arrayContaining([
          {
            type: 'mpesa',
            branch: 'westlands',
            fromConfigId: expect.any(String),
            newConfigId: expect.any(String),
          },
        ]),
      )
      expect(dry.backup).toBeNull()
      expect(
        (await run('gateway', 'list', '--branch', 'westlands', '--json'))
          .json<Row[]>()
          .every((r) => r.source === 'tenant'),
      ).toBe(true)
      const done = (await run('gateway', 'migrate', '--tenant', 'acme', '--json')).json<{
        copied: unknown[]
        backup: string
      }>()
      expect(done.copied.length).toBe(dry.copied.length)
      const { readFileSync } = await import('node:fs')
      const backup = readFileSync(done.backup, 'utf8')
      expect(backup).toContain('v1.k')
      expect(backup).not.toContain(CK)
      const after = (
        await run('gateway', 'show', 'mpesa', '--branch', 'westlands', '--json')
      ).json<{ source: string; secrets: Record<string, string> }>()
      expect(after.source).toBe('branch')
      expect(after.secrets['consumerKey']).toBe(`••••••••${CK.slice(-4)}`)
      const again = (await run('gateway', 'migrate', '--tenant', 'acme', '--json')).json<{
        copied: unknown[]
        backup: null
      }>()
      expect(again).toMatchObject({ copied: [], backup: null })
      const moved = (
        await run('gateway', 'migrate', '--tenant', 'acme', '--remove-tenant', '--json')
      ).json<{ removedTenantConfigs: string[] }>()
      expect(moved.removedTenantConfigs.length).toBeGreaterThan(0)
      const rows = (await run('gateway', 'list', '--json')).json<Row[]>()
      expect(rows.every((r) => r.branch !== null && r.source === 'branch')).toBe(true)
    })

    it('stores a settlement account and schedule per currency', async () => {
      const r = await run(
        'branch',
        'settlement-account',
        'westlands',
        '--account-name',
        'Acme Ltd',
        '--account-number',
        '1234567890',
        '--bank-name',
        'KCB',
        '--swift',
        'kcblkenx',
        '--schedule',
        'weekly',
        '--weekday',
        'fri',
        '--at',
        '18:30',
        '--min-amount',
        '1,000',
        '--holding-hours',
        '48',
        '--auto',
        '--json',
      )
      expect(r.code, r.stderr).toBe(0)
      expect(r.json()).toMatchObject({
        currency: 'KES',
        swift: 'KCBLKENX',
        schedule: { kind: 'weekly', weekday: 'fri', at: '18:30' },
        minAmountMinor: 100000,
        minAmount: '1000.00',
        holdingHours: 48,
        auto: true,
      })
      expect(
        (await run('branch', 'settlement-account', 'westlands', '--schedule', 'monthly')).code,
      ).toBe(2)
      expect(
        (
          await run(
            'branch',
            'settlement-account',
            'westlands',
            '--schedule',
            'monthly',
            '--day',
            '31',
          )
        ).code,
      ).toBe(3)
      expect((await run('branch', 'settlement-account', 'westlands', '--at', '25:00')).code).toBe(3)
      expect(
        (await run('branch', 'settlement-account', 'westlands', '--min-amount', '10.001')).code,
      ).toBe(3)
      expect((await run('branch', 'settlement-account', 'karen', '--schedule', 'daily')).code).toBe(
        2,
      )
      const m = await run(
        'branch',
        'settlement-account',
        'westlands',
        '--schedule',
        'monthly',
        '--day',
        'last',
        '--json',
      )
      expect(m.json()).toMatchObject({
        schedule: { kind: 'monthly', day: 'last', weekday: null },
        accountNumber: '1234567890',
      })
      const list = (await run('branch', 'settlement-account', 'westlands', '--json')).json<
        unknown[]
      >()
      expect(list).toHaveLength(1)
    })

    it('records every change in an audit chain that verifies', async () => {
      const v = await run('audit', 'verify', '--json')
      expect(v.code, v.stderr).toBe(0)
      const rows = (await run('audit', 'list', '--json')).json<
        { action: string; actor: string }[]
      >()
      const actions = rows.map((r) => r.action)
      expect(actions).toEqual(
        expect.arrayContaining([
          'tenant.create',
          'branch.create',
          'gateway.create',
          'gateway.update',
          'gateway.disable',
          'gateway.remove',
          'gateway.migrate',
          'settlement-account.create',
        ]),
      )
      expect(rows.every((r) => r.actor === 'tester')).toBe(true)
      const filtered = (
        await run('audit', 'list', '--action', 'gateway.*', '--branch', 'karen', '--json')
      ).json<{ action: string }[]>()
      expect(filtered.length).toBeGreaterThan(0)
      expect(filtered.every((r) => r.action.startsWith('gateway.'))).toBe(true)
      expect((await run('audit', 'list', '--since', 'yesterday')).code).toBe(0)
      expect((await run('audit', 'list', '--since', '2026-02-30')).code).toBe(3)
      expect((await run('audit', 'list', '--until', '')).code).toBe(3)
    })
  })
})
