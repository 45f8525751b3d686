import { afterAll, describe, expect, it } from 'vitest'
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js'
import { mpesaSecretFlags, usePaymentsEnv } from '../helpers/payments-env.js'
import { pgAvailable } from '../helpers/pg.js'
import { freePort, post, type RunningDaemon, startDaemon, stkCallback, waitFor } from './helpers.js'

interface Payment {
  id: string
  status: string
  checkoutRequestId: string | null
  timeline: { to: string }[]
}

describe.runIf(pgAvailable())('two daemons on one PostgreSQL database', () => {
  const env = usePaymentsEnv('postgres', { callbackDelayMs: 100 })
  let never: Sandbox | undefined
  const daemons: RunningDaemon[] = []

  afterAll(async () => {
    for (const d of daemons) expect(await d.stop()).toBe(0)
    await never?.close()
  })

  it('run each job tick once, ask each payment once per check, apply each callback once', async () => {
    never = await startSandbox({ callbackDelayMs: 3_600_000 })
    expect(
      (
        await env.run(
          'gateway',
          'setup',
          'mpesa',
          '--branch',
          'karen',
          '--base-url',
          never.url,
          ...mpesaSecretFlags(env.home),
        )
      ).code,
    ).toBe(0)
    const vars = { DSH_HOME: env.home, DSH_DB: env.db }
    const [pa, pb] = [await freePort(), await freePort()]
    const common = [
      '--recovery-interval',
      '1s',
      // Checks 2 s apart with a 1 s tick: a check whose tick fires a few ms late still lands
      // before the next offset (at 1 s apart it may fall past it, and one ask covers both).
      '--recovery-schedule',
      '1s,3s,5s',
      '--log-level',
      'debug',
    ]
    daemons.push(
      await startDaemon(vars, [
        '--port',
        String(pa),
        '--public-url',
        `http://127.0.0.1:${pa}`,
        ...common,
      ]),
      await startDaemon(vars, ['--port', String(pb), ...common]),
    )
    const [a, b] = daemons as [RunningDaemon, RunningDaemon]
    const pay = async (branch: string, phone: string, amount: string) => {
      const r = await env.run(
        'pay',
        '--branch',
        branch,
        '--amount',
        amount,
        '--currency',
        'KES',
        '--phone',
        phone,
        '--json',
      )
      expect(r.code, r.stderr).toBe(0)
      return r.json<Payment>()
    }
    // Karen's customers never act: each payment is asked at 1 s, 3 s and 5 s, then reviewed.
    const stuck = [
      await pay('karen', '0712345611', '400'),
      await pay('karen', '0712345612', '401'),
      await pay('karen', '0712345613', '402'),
    ]
    // Westlands: the sandbox calls daemon A back; both daemons' workers poll the shared inbox.
    const paid = [
      await pay('westlands', '0712345614', '403'),
      await pay('westlands', '0712345615', '404'),
      await pay('westlands', '0712345616', '405'),
    ]
    // The same callback sent 20 times to each daemon at once.
    const lost = await pay('westlands', '0700009001', '406')
    await waitFor(
      () => env.sandbox.ledger().some((c) => c.reference === lost.checkoutRequestId),
      10_000,
      'the customer to pay',
    )
    const urlA = (
      await env.run('gateway', 'callback-url', 'mpesa', '--branch', 'westlands', '--json')
    ).json<{ url: string }>().url
    const urlB = urlA.replace(`:${pa}/`, `:${pb}/`)
    const body = stkCallback(lost.checkoutRequestId!, { amount: '406.00', receipt: 'QPGDUP0001' })
    const replies = await Promise.all([
      ...Array.from({ length: 20 }, () => post(urlA, body)),
      ...Array.from({ length: 20 }, () => post(urlB, body)),
    ])
    expect(replies.every((r) => r.status === 200)).toBe(true)

    const show = async (id: string) =>
      (await env.run('payments', 'show', id, '--json')).json<Payment>()
    const final = await waitFor(
      async () => {
        const all = await Promise.all([...stuck, ...paid, lost].map((p) => show(p.id)))
        return all.every((p) => ['succeeded', 'needs_review'].includes(p.status)) ? all : undefined
      },
      20_000,
      'every payment to be final or reviewed',
      250,
    )
    expect(final.map((p) => p.status)).toEqual([
      ...stuck.map(() => 'needs_review'),
      ...paid.map(() => 'succeeded'),
      'succeeded',
    ])
    for (const p of final)
      expect(
        p.timeline.filter((e) => e.to === 'succeeded' || e.to === 'needs_review'),
      ).toHaveLength(1)
    // Each stuck payment was asked exactly three times, by one daemon or the other, never both.
    const queries = never.requests().filter((q) => q.path === '/mpesa/stkpushquery/v1/query')
    expect(queries.length).toBe(stuck.length * 3)
    const inbox = (await env.run('callbacks', 'list', '--json')).json<
      { dedupeKey: string; duplicates: number; status: string }[]
    >()
    const dup = inbox.filter((c) => c.dedupeKey === `mpesa:${lost.checkoutRequestId}`)
    expect(dup).toHaveLength(1)
    expect(dup[0]).toMatchObject({ duplicates: 39, status: 'applied' })

    // Every recovery tick both daemons saw ran in exactly one of them; the other skipped it.
    const ticks = (d: RunningDaemon, msg: string) =>
      d.logs.filter((l) => l.msg === msg && l['job'] === 'recovery').map((l) => String(l['tick']))
    const tally = () => {
      const ranA = ticks(a, 'job.run')
      const ranB = ticks(b, 'job.run')
      const both = new Set([...ranA, ...ranB, ...ticks(a, 'job.skip'), ...ticks(b, 'job.skip')])
      const seenByBoth = [...both].filter(
        (t) =>
          (ranA.includes(t) || ticks(a, 'job.skip').includes(t)) &&
          (ranB.includes(t) || ticks(b, 'job.skip').includes(t)),
      )
      return seenByBoth.length >= 5 ? { ranA, ranB, seenByBoth } : undefined
    }
    const { ranA, ranB, seenByBoth } = await waitFor(
      tally,
      30_000,
      'five recovery ticks seen by both daemons',
    )
    expect(seenByBoth.length).toBeGreaterThanOrEqual(5)
    for (const t of seenByBoth)
      expect(Number(ranA.includes(t)) + Number(ranB.includes(t)), `tick ${t}`).toBe(1)
    expect(new Set(ranA).size).toBe(ranA.length)
    const store = await env.app.store()
    const rows = await store.db
      .selectFrom('job_ticks')
      .selectAll()
      .where('job', '=', 'recovery')
      .execute()
    const owners = new Set(rows.map((r) => r.owner))
    expect(rows.length).toBe(new Set(rows.map((r) => r.tick)).size)
    expect([...owners].every((o) => o.startsWith('dmn_'))).toBe(true)
  }, 60_000)
})
