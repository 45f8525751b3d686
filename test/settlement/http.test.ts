import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { localDate } from '../../src/core/schedule.js'
import { freePort, type RunningDaemon, startDaemon, waitFor } from '../daemon/helpers.js'
import { DSH_BIN } from '../helpers/cli.js'
import { DIALECTS } from '../helpers/dialects.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'
import { addPayments } from './helpers.js'

interface Batch {
  id: string
  reference: string
  status: string
  netMinor: number
  paymentCount: number
  failureReason: string | null
  bankRef: string | null
  transfer: { adapter: string; transferId: string | null } | null
}
interface Report {
  nothingToDo: boolean
  batches: Batch[]
  sent: string[]
}

describe.each(DIALECTS)('settlement transfers on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('bank API', () => {
    const env = usePaymentsEnv(name, { callbackDelayMs: 100, slowAnswerMs: 2_500 })
    const run = (...args: string[]) => env.run(...args)
    const API_KEY = 'bank_key_westlands_1'
    const WEBHOOK_SECRET = 'bank_whsec_westlands_1'
    /** A run date n days ahead in the branch's zone (each test its own period: one batch per period). */
    const ahead = (n: number) => localDate(new Date(Date.now() + n * 86_400_000), 'Africa/Nairobi')
    const tomorrow = () => ahead(1)
    const put = (n: string, v: string) => {
      const p = join(env.home, n)
      writeFileSync(p, v)
      return p
    }
    /**
     * A succeeded card payment now (a transfer gateway: cash is banked by the branch, never sent
     * through the bank API), as the payments capability leaves it.
     */
    let seq = 0
    const card = async (amount: string) => {
      const id = `p_http_${++seq}`
      await addPayments(env.db, [
        {
          id,
          branch: 'westlands',
          gateway: 'stripe',
          amount: BigInt(amount) * 100n,
          currency: 'KES',
          completedAt: new Date().toISOString(),
          fee: { rateBp: 0, flat: 0n, convBp: 0 },
        },
      ])
      return id
    }
    const show = async (id: string) =>
      (await run('settlements', 'show', id, '--json')).json<Batch>()
    const settle = async (days = 1) => {
      const r = await run('settle', '--branch', 'westlands', '--date', ahead(days), '--json')
      expect(r.code, r.stderr).toBe(0)
      return r.json<Report>()
    }
    const bankLedger = () => env.sandbox.ledger().filter((c) => c.gateway === 'bank')

    describe('the bank API settlement account', () => {
      it('bad input: bank flags need --transfer http (2); http needs a bank code, no spaces, its secrets (3)', async () => {
        const base = [
          'branch',
          'settlement-account',
          'westlands',
          '--account-name',
          'Westlands Ltd',
          '--bank-name',
          'KCB',
        ]
        const noHttp = await run(
          ...base,
          '--account-number',
          '1234567890',
          '--bank-api-url',
          env.sandbox.url,
        )
        expect(noHttp.code).toBe(2)
        expect(noHttp.stderr).toContain('--bank-api-url applies to --transfer http only')
        const noCode = await run(...base, '--account-number', '1234567890', '--transfer', 'http')
        expect(noCode.code).toBe(3)
        expect(noCode.stderr).toContain('needs --bank-code')
        const spaces = await run(
          ...base,
          '--account-number',
          '1234 5678',
          '--transfer',
          'http',
          '--bank-code',
          '01',
        )
        expect(spaces.code).toBe(3)
        expect(spaces.stderr).toContain('no spaces')
        const missing = await run(
          ...base,
          '--account-number',
          '1234567890',
          '--transfer',
          'http',
          '--bank-code',
          '01',
          '--bank-api-url',
          env.sandbox.url,
        )
        expect(missing.code).toBe(3)
        expect(missing.stderr).toContain('--bank-api-key-file, --bank-webhook-secret-file')
        const notHttps = await run(
          ...base,
          '--account-number',
          '1234567890',
          '--transfer',
          'http',
          '--bank-code',
          '01',
          '--bank-api-url',
          'http://bank.example.com',
          '--bank-api-key-file',
          put('bk', API_KEY),
          '--bank-webhook-secret-file',
          put('bw', WEBHOOK_SECRET),
        )
        expect(notHttps.code).toBe(3)
        expect(notHttps.stderr).toContain('must use https')
        const made = await run(
          ...base,
          '--account-number',
          '1234567890',
          '--transfer',
          'http',
          '--bank-code',
          '01',
          '--bank-api-url',
          env.sandbox.url,
          '--bank-api-key-file',
          put('bk', API_KEY),
          '--bank-webhook-secret-file',
          put('bw', WEBHOOK_SECRET),
          '--holding-hours',
          '0',
          '--json',
        )
        expect(made.code, made.stderr).toBe(0)
        expect(made.json()).toMatchObject({
          transfer: 'http',
          bankApiUrl: env.sandbox.url,
          bankApiKey: '••••••••ds_1',
          bankWebhookSecret: '••••••••ds_1',
        })
        expect(made.stdout).not.toContain(API_KEY)
        // a new URL keeps no stored secret
        const moved = await run(
          'branch',
          'settlement-account',
          'westlands',
          '--bank-api-url',
          'https://bank.example.com',
        )
        expect(moved.code).toBe(3)
        expect(moved.stderr).toContain('a new --bank-api-url keeps no stored bank secret')
        const shown = await run('branch', 'settlement-account', 'westlands')
        expect(shown.stdout).toContain('••••••••ds_1')
        expect(shown.stdout).not.toContain(API_KEY)
      })

      it('kill -9 between creating a batch and recording its transfer: the rerun sends it once', async () => {
        const p = await card('700')
        env.sandbox.script({ gateway: 'bank', outcome: 'slow_success' })
        const before = env.sandbox.requests().length
        const child = spawn(
          process.execPath,
          [DSH_BIN, 'settle', '--branch', 'westlands', '--date', tomorrow(), '--json'],
          {
            env: { ...process.env, DSH_HOME: env.home, DSH_DB: env.db, NODE_OPTIONS: '' },
            stdio: 'ignore',
          },
        )
        await waitFor(
          () =>
            env.sandbox
              .requests()
              .slice(before)
              .some((q) => q.method === 'POST' && q.path === '/bank/v1/transfers'),
          10_000,
          'the transfer to reach the bank',
        )
        child.kill('SIGKILL')
        await new Promise((r) => child.on('exit', r))
        const pending = (await run('settlements', 'list', '--status', 'pending', '--json')).json<
          Batch[]
        >()
        expect(pending).toHaveLength(1)
        const batch = pending[0] as Batch
        expect((await run('payments', 'show', p, '--json')).json()).toMatchObject({
          settlementBatchId: batch.id,
          settlementStatus: 'batched',
        })
        const again = await settle()
        expect(again).toMatchObject({ batches: [], sent: [batch.id], nothingToDo: false })
        const sent = await show(batch.id)
        expect(sent.status).toBe('processing')
        expect(sent.transfer?.transferId).toMatch(/^trf_/)
        await waitFor(
          () => bankLedger().some((c) => c.attemptRef === batch.id),
          10_000,
          'the bank to pay',
        )
        // Nothing more to come from the bank (no transfer still to settle), so the count is final.
        await waitFor(
          () => env.sandbox.pending() === 0,
          10_000,
          'the bank to finish every transfer',
        )
        expect(bankLedger().filter((c) => c.attemptRef === batch.id)).toHaveLength(1)
        // And no second transfer of this batch under another key.
        expect(bankLedger().filter((c) => c.payeeReference === batch.reference)).toHaveLength(1)
        expect(bankLedger().filter((c) => c.attemptRef === batch.id)[0]).toMatchObject({
          amount: String(batch.netMinor),
          reference: sent.transfer?.transferId,
        })
        const third = await settle()
        expect(third).toMatchObject({ nothingToDo: true, sent: [] })
        expect(
          (
            await run(
              'settlements',
              'complete',
              batch.id,
              '--bank-ref',
              sent.transfer?.transferId ?? '',
            )
          ).code,
        ).toBe(0)
        expect((await run('doctor')).code).toBe(0)
        // 8 s at a load of 18 on 2 cores: over 3× its quiet time.
      }, 60_000)

      describe('through the daemon', () => {
        let daemon: RunningDaemon
        beforeAll(async () => {
          const port = await freePort()
          daemon = await startDaemon({ DSH_HOME: env.home, DSH_DB: env.db }, [
            '--port',
            String(port),
            '--public-url',
            `http://127.0.0.1:${port}`,
            '--unmatched-window',
            '4s',
          ])
          const url = (
            await run('gateway', 'callback-url', 'bank', '--branch', 'westlands', '--json')
          ).json<{ url: string }>().url
          // another branch's registration (no key) must not catch this branch's transfers
          env.sandbox.registerWebhook({
            gateway: 'bank',
            url: `${daemon.url}/callbacks/bank/nobody`,
            secret: 'other',
          })
          env.sandbox.registerWebhook({
            gateway: 'bank',
            url,
            secret: WEBHOOK_SECRET,
            apiKey: API_KEY,
          })
        })
        afterAll(async () => {
          expect(await daemon?.stop()).toBe(0)
          expect(daemon.stderr()).not.toContain(WEBHOOK_SECRET)
          expect(daemon.stderr()).not.toContain(API_KEY)
        })

        it('the bank’s signed confirmation completes the batch; its payments are settled', async () => {
          const p = await card('1200')
          const r = await settle(2)
          expect(r.batches).toHaveLength(1)
          const b = r.batches[0] as Batch
          expect(b).toMatchObject({
            status: 'processing',
            paymentCount: 1,
            transfer: { adapter: 'http' },
          })
          const done = await waitFor(
            async () => ((await show(b.id)).status === 'completed' ? show(b.id) : undefined),
            10_000,
            'the confirmation',
          )
          expect(done.bankRef).toBe(b.transfer?.transferId)
          expect((await run('payments', 'show', p, '--json')).json()).toMatchObject({
            settlementStatus: 'settled',
            settlementBatchId: b.id,
          })
          const inbox = (await run('callbacks', 'list', '--json')).json<
            { status: string; note: string }[]
          >()
          expect(inbox.find((c) => c.note?.includes(b.id))).toMatchObject({ status: 'applied' })
          const list = await run('settlements', 'list', '--branch', 'westlands', '--json')
          expect(list.json<Batch[]>()[0]).toMatchObject({ id: b.id, status: 'completed' })
          // the same batch JSON behind GET /api/branches/:id/settlements (viewer)
          const token = (
            await run('token', 'create', '--name', 'finance-viewer', '--role', 'viewer', '--json')
          ).json<{ token: string }>().token
          const res = await fetch(`${daemon.url}/api/branches/westlands/settlements`, {
            headers: { authorization: `Bearer ${token}` },
          })
          expect(res.status).toBe(200)
          const fromApi = (await res.json()) as Batch[]
          expect(fromApi).toEqual(list.json<Batch[]>())
        })

        it('a declined transfer fails the batch and releases its payments to the next run', async () => {
          const p = await card('450')
          env.sandbox.script({ gateway: 'bank', outcome: 'declined' })
          const r = await settle(3)
          const b = r.batches[0] as Batch
          const failed = await waitFor(
            async () => ((await show(b.id)).status === 'failed' ? show(b.id) : undefined),
            10_000,
            'the refusal',
          )
          expect(failed.failureReason).toBe(
            'the bank refused the transfer: Beneficiary account closed',
          )
          expect((await run('payments', 'show', p, '--json')).json()).toMatchObject({
            settlementStatus: 'unsettled',
            settlementBatchId: null,
          })
          // released to the next run: the same period batches it again
          const next = await settle(3)
          expect(next.batches).toHaveLength(1)
          expect(next.batches[0]).toMatchObject({ paymentCount: 1, netMinor: b.netMinor })
          await waitFor(
            async () =>
              (await show(next.batches[0]?.id ?? '')).status === 'completed' ? true : undefined,
            10_000,
            'the second transfer',
          )
          expect((await run('doctor')).code).toBe(0)
        })
      })

      it('cash is banked: a day of cash and card calls the bank API once, for the card net; the cash-up calls nothing', async () => {
        // Cash through the real `dsh pay` (recorded at once), cards as the card gateway leaves them.
        const cashIds: string[] = []
        for (const amount of ['2000', '3000.50', '150']) {
          const r = await run(
            'pay',
            '--branch',
            'westlands',
            '--amount',
            amount,
            '--currency',
            'KES',
            '--method',
            'cash',
            '--json',
          )
          expect(r.code, r.stderr).toBe(0)
          cashIds.push(r.json<{ id: string }>().id)
        }
        const cards = [await card('900'), await card('1100')]
        const before = env.sandbox.requests().length
        const ledger = bankLedger().length
        const r = await settle(5)
        const cashUp = r.batches.find((b) => b.reference.startsWith('CASH-')) as Batch & {
          kind: string
          status: string
          expectedMinor: number
        }
        const transfers = r.batches.filter((b) => !b.reference.startsWith('CASH-'))
        expect(cashUp).toMatchObject({
          kind: 'cash_deposit',
          status: 'awaiting_deposit',
          paymentCount: 3,
          expectedMinor: 515050,
          netMinor: 515050,
          transfer: null,
        })
        expect(transfers).toHaveLength(1)
        expect(transfers[0]).toMatchObject({ paymentCount: 2, netMinor: 200000 })
        expect(r.sent).toEqual([transfers[0]?.id])
        await waitFor(
          () => bankLedger().length > ledger || undefined,
          10_000,
          'the card transfer to be paid',
        )
        // exactly one transfer request left for the bank (settle returned after its sends were
        // answered), and it carries the card net
        const calls = env.sandbox
          .requests()
          .slice(before)
          .filter((q) => q.method === 'POST' && q.path === '/bank/v1/transfers')
        expect(calls).toHaveLength(1)
        const paid = bankLedger().slice(ledger)
        expect(paid.map((c) => c.amount)).toEqual(['200000'])
        expect(paid.some((c) => c.attemptRef === cashUp.id)).toBe(false)
        for (const id of cashIds)
          expect((await run('payments', 'show', id, '--json')).json()).toMatchObject({
            settlementBatchId: cashUp.id,
            settlementStatus: 'batched',
          })
        expect(cards).toHaveLength(2)
        // a rerun never sends the cash-up either
        expect(await settle(5)).toMatchObject({ nothingToDo: true, sent: [] })
      })
    })
  })
})
