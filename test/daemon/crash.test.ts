import { describe, expect, it } from 'vitest'
import { DIALECTS } from '../helpers/dialects.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'
import { freePort, type RunningDaemon, startDaemon, stkCallback, waitFor } from './helpers.js'

interface Payment {
  id: string
  status: string
  checkoutRequestId: string | null
  timeline: { to: string }[]
}
interface Callback {
  id: string
  dedupeKey: string
  status: string
  duplicates: number
  paymentId: string | null
}

describe.each(DIALECTS)('on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('store', () => {
    const env = usePaymentsEnv(name, { callbackDelayMs: 150 })

    describe('kill -9 under a flood of callbacks', () => {
      it('every callback that got a 2xx is applied exactly once after a restart', async () => {
        const vars = { DSH_HOME: env.home, DSH_DB: env.db }
        const port = await freePort()
        const args = [
          '--port',
          String(port),
          '--public-url',
          `http://127.0.0.1:${port}`,
          '--recovery-interval',
          '1s',
          '--recovery-schedule',
          '1s,2s,3s,4s',
        ]
        let daemon: RunningDaemon = await startDaemon(vars, args)
        const url = (
          await env.run('gateway', 'callback-url', 'mpesa', '--branch', 'westlands', '--json')
        ).json<{ url: string }>().url
        // Besides the sandbox's callbacks, 8 clients flood the daemon with callbacks for unknown
        // checkouts the whole time, through the kill and the restart.
        let flooding = true
        const floodAcked: string[] = []
        let floodRefused = 0
        const flooder = async (lane: number) => {
          for (let n = 0; flooding; n++) {
            const cri = `ws_CO_FLOOD${lane}_${n}`
            try {
              const res = await fetch(url, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify(stkCallback(cri, { amount: '10.00' })),
              })
              await res.text()
              if (res.status === 200) floodAcked.push(`mpesa:${cri}`)
            } catch {
              floodRefused++
              // timer(pacing): the flooder's own back-off while the daemon is down
              await new Promise((r) => setTimeout(r, 20))
            }
          }
        }
        const flood = Promise.all(Array.from({ length: 8 }, (_, i) => flooder(i)))
        // Every push is answered with three copies of its callback.
        env.sandbox.script({ gateway: 'mpesa', outcome: 'duplicate_callback', count: 10_000 })
        const acked = () => env.sandbox.deliveries().filter((d) => d.status === 200).length
        const ids: string[] = []
        let killedAt = -1
        for (let i = 0; i < 60; i++) {
          const r = await env.run(
            'pay',
            '--branch',
            'westlands',
            '--amount',
            String(100 + i),
            '--currency',
            'KES',
            '--phone',
            `07120000${String(i).padStart(2, '0')}`,
            '--json',
          )
          expect(r.code, r.stderr).toBe(0)
          ids.push(r.json<Payment>().id)
          if (killedAt < 0 && acked() >= 30) {
            daemon.proc.kill('SIGKILL')
            expect(await daemon.exited).toBe('SIGKILL')
            killedAt = i
          }
          if (killedAt >= 0 && i === killedAt + 10) daemon = await startDaemon(vars, args)
        }
        expect(killedAt, 'the daemon was killed mid-flood').toBeGreaterThanOrEqual(0)
        if (daemon.proc.exitCode !== null || daemon.proc.signalCode !== null)
          daemon = await startDaemon(vars, args)
        // The flood goes on into the restarted daemon: it acknowledges some of it.
        const ackedAtRestart = floodAcked.length
        await waitFor(
          () => floodAcked.length > ackedAtRestart,
          10_000,
          'the restarted daemon to take the flood',
        )
        flooding = false
        await flood

        // Every payment ends succeeded: by its callback, or by the recovery query when none got in.
        const payments = await waitFor(
          async () => {
            const all = await Promise.all(
              ids.map(async (id) =>
                (await env.run('payments', 'show', id, '--json')).json<Payment>(),
              ),
            )
            return all.every((p) => p.status === 'succeeded') ? all : undefined
          },
          40_000,
          'every payment to succeed',
          250,
        )
        // The sandbox has sent everything it will send.
        await waitFor(() => env.sandbox.pending() === 0, 10_000, 'the sandbox to be idle')
        const deliveries = env.sandbox.deliveries().filter((d) => d.gateway === 'mpesa')
        const ok = deliveries.filter(
          (d) => d.status !== undefined && d.status >= 200 && d.status < 300,
        )
        const lost = deliveries.filter((d) => d.status === undefined || d.status >= 300)
        expect(lost.length, 'some deliveries failed while the daemon was down').toBeGreaterThan(0)
        const ackedKeys = new Set(
          ok.map(
            (d) =>
              `mpesa:${(JSON.parse(d.body) as { Body: { stkCallback: { CheckoutRequestID: string } } }).Body.stkCallback.CheckoutRequestID}`,
          ),
        )
        // The inbox worker catches up with every acknowledged callback of a payment.
        const inbox = await waitFor(
          async () => {
            const all = (await env.run('callbacks', 'list', '--limit', '100000', '--json')).json<
              Callback[]
            >()
            const open = all.filter((c) => ackedKeys.has(c.dedupeKey) && c.status !== 'applied')
            return open.length === 0 ? all : undefined
          },
          60_000,
          'every acknowledged payment callback to be processed',
          500,
        )
        const byKey = new Map(inbox.map((c) => [c.dedupeKey, c]))
        const ackedPerKey = new Map<string, number>()
        for (const d of ok) {
          const cri = (
            JSON.parse(d.body) as { Body: { stkCallback: { CheckoutRequestID: string } } }
          ).Body.stkCallback.CheckoutRequestID
          ackedPerKey.set(`mpesa:${cri}`, (ackedPerKey.get(`mpesa:${cri}`) ?? 0) + 1)
        }
        // A delivery that was refused never reached a daemon; one cut off by the kill (reset, hang-up)
        // may or may not have been stored before it died: the only copies that cannot be told.
        const refused = (d: { error?: string | undefined }) => /ECONNREFUSED/.test(d.error ?? '')
        const cutPerKey = new Map<string, number>()
        for (const d of lost.filter((d) => d.status === undefined && !refused(d))) {
          const key = `mpesa:${(JSON.parse(d.body) as { Body: { stkCallback: { CheckoutRequestID: string } } }).Body.stkCallback.CheckoutRequestID}`
          cutPerKey.set(key, (cutPerKey.get(key) ?? 0) + 1)
        }
        let exact = 0
        for (const [key, n] of ackedPerKey) {
          const entry = byKey.get(key)
          expect(entry, `acknowledged callback ${key} is in the inbox`).toBeDefined()
          expect(entry!.status).toBe('applied')
          // Every acknowledged copy is the stored one or a counted duplicate, and nothing else is
          // counted: exactly n, or n plus some of the copies the kill cut off.
          const cut = cutPerKey.get(key) ?? 0
          if (cut === 0) {
            expect(entry!.duplicates + 1, key).toBe(n)
            exact++
          } else {
            expect(entry!.duplicates + 1, key).toBeGreaterThanOrEqual(n)
            expect(entry!.duplicates + 1, key).toBeLessThanOrEqual(n + cut)
          }
        }
        expect(exact, 'keys with no copy cut off by the kill are counted exactly').toBeGreaterThan(
          0,
        )
        // Every flood callback that got its 200 survived the kill.
        expect(floodRefused, 'the flood hit the dead daemon').toBeGreaterThan(0)
        expect(floodAcked.length).toBeGreaterThan(100)
        const missing = floodAcked.filter((k) => !byKey.has(k))
        expect(missing, 'acknowledged but not in the store').toEqual([])
        // Each flood key was sent once: stored once, never counted as a duplicate.
        expect(floodAcked.filter((k) => byKey.get(k)!.duplicates !== 0)).toEqual([])
        for (const p of payments) {
          // Applied exactly once: one move to succeeded, whatever arrived how many times.
          expect(p.timeline.filter((e) => e.to === 'succeeded')).toHaveLength(1)
        }
        const paidByCallback = payments.filter((p) =>
          ackedPerKey.has(`mpesa:${p.checkoutRequestId}`),
        )
        expect(paidByCallback.length).toBeGreaterThan(20)
        expect(env.sandbox.ledger().filter((c) => c.gateway === 'mpesa').length).toBe(60)
        const verify = await env.run('audit', 'verify', '--json')
        expect(verify.code, verify.stdout).toBe(0)
        expect(await daemon.stop()).toBe(0)
      }, 180_000)
    })
  })
})
