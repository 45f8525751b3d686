import { beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { run, seedPayments } from '../helpers/recon-env.js'

/**
 * The KYC alert amount per currency (issue 22, item 5): a bare number keeps today's meaning for
 * every currency (1,000,000 major units is KES 1,000,000 and UGX 1,000,000 alike); `CUR:amount`
 * sets one currency's, and a bare number in the list is for the currencies not named.
 */

interface Health {
  alerts: { code: string; branch: string | null; message: string; threshold: string | null }[]
  checks: { name: string; branch: string | null; threshold: unknown }[]
}

describe.each(DIALECTS)('alert-kyc-amount per currency ($name)', ({ name, enabled }) => {
  const s = useStoreEnv(name)
  const kycAlerts = async () => {
    const r = await run(s.env, ['health', '--json'], 8)
    return r
      .json<Health>()
      .alerts.filter((a) => a.code === 'kyc_threshold')
      .map((a) => `${a.branch} ${a.threshold}`)
      .sort()
  }
  const set = (v: string, code = 0) => run(s.env, ['config', 'set', 'alert-kyc-amount', v], code)

  beforeAll(async () => {
    if (!enabled) return
    for (const args of [
      ['init'],
      ['tenant', 'add', 'acme', '--name', 'Acme'],
      ['branch', 'add', 'westlands', '--tenant', 'acme', '--name', 'W', '--currency', 'KES'],
      ['branch', 'add', 'kampala', '--tenant', 'acme', '--name', 'K', '--currency', 'UGX'],
    ])
      await run(s.env, args)
    const at = new Date(Date.now() - 60_000).toISOString()
    // KES 1,500,000 and UGX 2,000,000 (about KES 70,000): both over today's 1,000,000.
    await seedPayments(s.env, 'westlands', [
      {
        id: 'pay_kyc_kes',
        at,
        amount: 150_000_000n,
        status: 'pending',
        receipt: null,
        phone: null,
      },
    ])
    await seedPayments(s.env, 'kampala', [
      { id: 'pay_kyc_ugx', at, amount: 2_000_000n, status: 'pending', receipt: null, phone: null },
    ])
  }, 60_000)

  it.runIf(enabled)('by default 1,000,000 major units flags KES and UGX alike', async () => {
    expect(await kycAlerts()).toEqual(['kampala 1000000', 'westlands 1000000'])
  })

  it.runIf(enabled)('per currency: UGX 3,700,000 no longer flags UGX 2,000,000', async () => {
    expect((await set('KES:1000000,UGX:3700000')).stdout).toContain(
      '1000000,KES:1000000,UGX:3700000',
    )
    expect(await kycAlerts()).toEqual(['westlands 1000000'])
    const got = await run(s.env, ['config', 'get', 'alert-kyc-amount', '--json'])
    expect(got.stdout).toContain('1000000,KES:1000000,UGX:3700000')
  })

  it.runIf(enabled)(
    'a bare number is for the currencies not named; alone, for all of them',
    async () => {
      await set('2000000,ugx:1500000')
      expect(await kycAlerts()).toEqual(['kampala 1500000'])
      await set('1500000')
      expect(await kycAlerts()).toEqual(['kampala 1500000', 'westlands 1500000'])
    },
  )

  it.runIf(enabled)('bad values are refused (exit 3), naming what is wrong', async () => {
    const cases: [string, string][] = [
      ['KES:1000000,KES:2', 'KES given twice'],
      ['XYZ:5', 'unknown currency XYZ'],
      ['KES:', '"" must be a whole number from 1 to 1000000000000'],
      ['1,2', 'more than one bare number'],
      ['KES:1.5', '"1.5" must be a whole number'],
    ]
    for (const [v, why] of cases) expect((await set(v, 3)).stderr, v).toContain(why)
  })
})
