import { afterAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.js'
import type { Ctx } from '../../src/context.js'
import { withActor } from '../../src/context.js'
import { pay } from '../../src/payments/pay.js'
import { DEFAULT_RECOVERY, parseSchedule, runRecovery } from '../../src/payments/recovery.js'
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js'
import { mpesaSecretFlags, usePaymentsEnv } from '../helpers/payments-env.js'
import { testRuntime } from '../helpers/run-cli.js'

interface Payment {
  id: string
  status: string
  branch: string
  checkoutRequestId: string | null
  timeline: { to: string; actor: string; reason: string }[]
}

const env = usePaymentsEnv('sqlite', { callbackDelayMs: 100 })
let never: Sandbox | undefined

afterAll(async () => {
  await never?.close()
})

/** A sandbox whose customers never act: STK Query keeps saying "being processed". */
async function pointKarenAtSilentSandbox(): Promise<void> {
  never ??= await startSandbox({ callbackDelayMs: 3_600_000 })
  const r = await env.run(
    'gateway',
    'setup',
    'mpesa',
    '--branch',
    'karen',
    '--base-url',
    never.url,
    ...mpesaSecretFlags(env.home),
  )
  expect(r.code, r.stderr).toBe(0)
}

/** A context on the store whose clock the test moves. */
function virtualApp(): { app: Ctx; close(): Promise<void>; set(ms: number): void } {
  let now = Date.now()
  const { rt } = testRuntime({
    env: { DSH_HOME: env.home, DSH_DB: env.db },
    clock: { now: () => new Date(now) },
  })
  const base = createApp(rt, {})
  const app = withActor(base, 'daemon')
  return {
    app,
    close: () => base.close(),
    set(ms) {
      now = ms
    },
  }
}

describe('recovery schedule', () => {
  it('parses offsets and every/until forms', () => {
    expect(parseSchedule('30s,60s,2m,3m', 'x')).toEqual([30_000, 60_000, 120_000, 180_000])
    expect(parseSchedule('1h/3h', 'x')).toEqual([3_600_000, 7_200_000, 10_800_000])
    expect(() => parseSchedule('2m,1m', 'x')).toThrow(/increasing/)
    expect(DEFAULT_RECOVERY.unknownMs).toHaveLength(24)
  })

  it('on a virtual clock: a pending payment is asked at 30, 60, 120 and 180 s, then needs review', async () => {
    await pointKarenAtSilentSandbox()
    const v = virtualApp()
    const t0 = Date.now()
    v.set(t0)
    const r = await pay(v.app, {
      branch: 'karen',
      amount: '210',
      currency: 'KES',
      phone: '0712345699',
    })
    expect(r.payment.status).toBe('pending')
    const queries = () =>
      never!.requests().filter((q) => q.path === '/mpesa/stkpushquery/v1/query').length
    const checks: number[] = []
    for (const s of [10, 29, 31, 45, 61, 100, 121, 150, 181, 200]) {
      v.set(t0 + s * 1000)
      const before = queries()
      const rep = await runRecovery(v.app, { schedule: DEFAULT_RECOVERY })
      expect(rep.errors).toBe(0)
      if (queries() > before) checks.push(s)
    }
    expect(checks).toEqual([31, 61, 121, 181])
    const p = (await env.run('payments', 'show', r.payment.id, '--json')).json<Payment>()
    expect(p.status).toBe('needs_review')
    expect(p.timeline.at(-1)).toMatchObject({ to: 'needs_review', actor: 'daemon:recovery' })
    expect(p.timeline.at(-1)?.reason).toContain('no final answer after 4 recovery checks')
    await v.close()
  })

  it('on a virtual clock: an unknown payment is asked hourly for 24 h, then needs review', async () => {
    const v = virtualApp()
    const t0 = Date.now()
    v.set(t0)
    // The push answer is withheld past the read timeout: the outcome is unknown.
    const r = await pay(v.app, {
      branch: 'westlands',
      amount: '220',
      currency: 'KES',
      phone: '0700009408',
    })
    expect(r.payment.status).toBe('unknown')
    const checked: number[] = []
    const at = (h: number, m = 0) => t0 + h * 3_600_000 + m * 60_000
    const times = [at(0, 1), at(0, 30), ...Array.from({ length: 24 }, (_, i) => at(i + 1, 1))]
    for (const [i, ms] of times.entries()) {
      v.set(ms)
      const rep = await runRecovery(v.app, { schedule: DEFAULT_RECOVERY })
      if (rep.checked > 0) checked.push(i)
      // Between two scheduled checks nothing is asked.
      v.set(ms + 20 * 60_000)
      expect((await runRecovery(v.app, { schedule: DEFAULT_RECOVERY })).checked).toBe(0)
    }
    // 30 s after the push (the first check every payment gets), then every hour to 24 h.
    expect(checked).toEqual([0, ...Array.from({ length: 24 }, (_, i) => i + 2)])
    const p = (await env.run('payments', 'show', r.payment.id, '--json')).json<Payment>()
    expect(p.status).toBe('needs_review')
    await v.close()
  })
})

// A real daemon with every callback dropped: test/daemon/races.test.ts, on SQLite and PostgreSQL.
