import { describe, expect, it } from 'vitest'
import { dsh } from '../helpers/cli.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'

interface Branch {
  code: string
  tenant: string
  currency: string
  timezone: string
  taxRate: string
  taxRateBp: number
  serviceChargeRateBp: number
  tips: boolean
  methods: string[]
  status: string
  createdAt: string
}

describe.each(DIALECTS)('foundation on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('commands', () => {
    const s = useStoreEnv(name)
    const run = (...args: string[]) => dsh(args, { env: s.env })

    it('init creates the home, the key and the store, and a second run changes nothing', async () => {
      const first = await run('init', '--json')
      expect(first.code, first.stderr).toBe(0)
      const r1 = first.json<{ dialect: string; keyCreated: boolean; migrationsApplied: string[] }>()
      expect(r1.dialect).toBe(name)
      expect(r1.keyCreated).toBe(true)
      expect(r1.migrationsApplied.length).toBeGreaterThan(0)
      const second = (await run('init', '--json')).json<typeof r1>()
      expect(second.keyCreated).toBe(false)
      expect(second.migrationsApplied).toEqual([])
    })

    it('adds a tenant and a branch and lists them as JSON', async () => {
      expect((await run('tenant', 'add', 'acme', '--name', 'Acme')).code).toBe(0)
      const add = await run(
        'branch',
        'add',
        'westlands',
        '--tenant',
        'acme',
        '--name',
        'Westlands',
        '--currency',
        'KES',
      )
      expect(add.code, add.stderr).toBe(0)
      expect(add.stdout).toContain('westlands')
      const list = await run('branch', 'list', '--json')
      expect(list.code).toBe(0)
      const rows = list.json<Branch[]>()
      expect(rows).toHaveLength(1)
      expect(rows[0]).toMatchObject({
        code: 'westlands',
        tenant: 'acme',
        currency: 'KES',
        timezone: 'Africa/Nairobi',
        status: 'active',
        tips: false,
      })
      expect(rows[0]?.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
      const tenants = (await run('tenant', 'list', '--json')).json<
        { slug: string; branchCount: number }[]
      >()
      expect(tenants).toEqual([expect.objectContaining({ slug: 'acme', branchCount: 1 })])
    })

    it('global flags work before and after the subcommand', async () => {
      const before = await dsh(['--json', '--db', s.db, 'branch', 'show', 'westlands'], {
        env: { DSH_HOME: s.home },
      })
      const after = await dsh(['branch', 'show', 'westlands', '--db', s.db, '--json'], {
        env: { DSH_HOME: s.home },
      })
      expect(before.code, before.stderr).toBe(0)
      expect(before.json()).toEqual(after.json())
    })

    it('sets rates, tips and methods with validation', async () => {
      await run(
        'branch',
        'add',
        'kampala',
        '--tenant',
        'acme',
        '--name',
        'Kampala',
        '--currency',
        'UGX',
        '--timezone',
        'Africa/Kampala',
        '--tax-rate',
        '18',
        '--service-charge',
        '2.5',
        '--tips',
        '--methods',
        'mpesa,cash',
      )
      const b = (await run('branch', 'show', 'kampala', '--json')).json<Branch>()
      expect(b).toMatchObject({
        currency: 'UGX',
        timezone: 'Africa/Kampala',
        taxRateBp: 1800,
        serviceChargeRateBp: 250,
        tips: true,
        methods: ['mpesa', 'cash'],
      })
      const set = await run('branch', 'set', 'kampala', '--no-tips', '--tax-rate', '16.5', '--json')
      expect(set.code, set.stderr).toBe(0)
      expect(set.json<Branch>()).toMatchObject({ tips: false, taxRateBp: 1650, taxRate: '16.5' })
      expect((await run('branch', 'set', 'kampala')).code).toBe(2)
      expect((await run('branch', 'set', 'kampala', '--methods', 'bitcoin')).code).toBe(3)
    })

    it('disables and enables a branch, shown in lists', async () => {
      expect((await run('branch', 'disable', 'kampala')).code).toBe(0)
      const rows = (await run('branch', 'list', '--tenant', 'acme', '--json')).json<Branch[]>()
      expect(rows.find((r) => r.code === 'kampala')?.status).toBe('disabled')
      expect((await run('branch', 'list')).stdout).toMatch(/kampala.*disabled/)
      expect((await run('branch', 'enable', 'kampala', '--json')).json<Branch>().status).toBe(
        'active',
      )
    })

    it('refuses duplicates with exit 5 and unknown names with exit 4', async () => {
      const dup = await run(
        'branch',
        'add',
        'westlands',
        '--tenant',
        'acme',
        '--name',
        'W2',
        '--currency',
        'KES',
      )
      expect(dup.code).toBe(5)
      expect(dup.stderr).toContain('already exists')
      expect((await run('tenant', 'add', 'acme', '--name', 'Again')).code).toBe(5)
      expect((await run('branch', 'show', 'nowhere')).code).toBe(4)
      expect((await run('branch', 'list', '--tenant', 'nobody')).code).toBe(4)
      expect(
        (await run('branch', 'add', 'x4', '--tenant', 'nobody', '--name', 'X', '--currency', 'KES'))
          .code,
      ).toBe(4)
    })

    it('migrate status reports every migration as applied', async () => {
      const st = await run('migrate', 'status', '--json')
      expect(st.code).toBe(0)
      const body = st.json<{
        pending: string[]
        unknown: string[]
        migrations: { appliedAt: string | null }[]
      }>()
      expect(body.pending).toEqual([])
      expect(body.unknown).toEqual([])
      expect(body.migrations.every((m) => m.appliedAt !== null)).toBe(true)
    })
  })
})
