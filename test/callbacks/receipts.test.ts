import { describe, expect, it } from 'vitest'
import { inboxInsert, insertInboxBatch } from '../../src/callbacks/inbox.js'
import { type ProcessResult, replayCallback } from '../../src/callbacks/process.js'
import { requireBranch } from '../../src/tenants/branches.js'
import { stkCallback, waitFor } from '../daemon/helpers.js'
import { DIALECTS } from '../helpers/dialects.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'

/**
 * A callback whose receipt fails the check is not refused (that would lose a confirmation): it
 * is stored, the receipt is not written to the payment, and the inbox entry goes to `review`
 * (issue 22, item 3). Callbacks are stored as the daemon's receiver stores them and processed by
 * the real processing (the confirming STK query goes to the sandbox over HTTP).
 */

interface Payment {
  id: string
  status: string
  receiptNumber: string | null
  checkoutRequestId: string | null
}

describe.each(DIALECTS)('callback receipts ($name)', ({ name, enabled }) => {
  describe.runIf(enabled)('store', () => {
    const env = usePaymentsEnv(name, { callbackDelayMs: 50 })
    const show = async (id: string) =>
      (await env.run('payments', 'show', id, '--json')).json<Payment>()

    /** Stores a callback for westlands as the receiver does, and processes it to a final state. */
    async function receive(gateway: 'mpesa', key: string, body: unknown): Promise<ProcessResult> {
      const store = await env.app.store()
      const branch = await requireBranch(store.db, 'westlands')
      const row = inboxInsert(env.app.ids, env.app.clock.now().toISOString(), {
        gateway,
        branchId: branch.id,
        tenantId: branch.tenant_id,
        raw: JSON.stringify(body),
        body,
        headers: {},
        remoteAddr: '127.0.0.1',
        dedupeKey: key,
        gatewayRef: undefined,
      })
      await store.write((trx) => insertInboxBatch(trx, [row]))
      // The confirming query may still find the push pending: process again until it is final.
      return waitFor(
        async () => {
          const r = await replayCallback(env.app, row.id, { unmatchedWindowMs: 60_000 })
          return r.status === 'received' ? undefined : r
        },
        10_000,
        'the callback processed',
      )
    }

    async function pushed(phone: string): Promise<Payment> {
      const r = await env.run(
        'pay',
        '--branch',
        'westlands',
        '--amount',
        '100',
        '--currency',
        'KES',
        '--phone',
        phone,
        '--json',
      )
      expect(r.code, r.stderr).toBe(0)
      const p = r.json<Payment>()
      expect(p.checkoutRequestId).toBeTruthy()
      return p
    }

    it('an STK callback with a formula for a receipt: payment confirmed without it, entry in review', async () => {
      const p = await pushed('254712000001')
      const r = await receive(
        'mpesa',
        `mpesa:${p.checkoutRequestId}`,
        stkCallback(p.checkoutRequestId as string, { amount: '100', receipt: '=1+1' }),
      )
      expect(r.status).toBe('review')
      expect(r.note).toContain(
        'receipt "=1+1" refused (an M-Pesa receipt is 10 capital letters or digits); not written to the payment',
      )
      expect(r.paymentId).toBe(p.id)
      const after = await show(p.id)
      expect(after.status).toBe('succeeded')
      expect(after.receiptNumber).toBeNull()
      // The confirmation itself is kept, as it came.
      const entry = (await env.run('callbacks', 'show', r.id, '--json')).json<{
        status: string
        body: unknown
      }>()
      expect(entry.status).toBe('review')
      expect(JSON.stringify(entry.body)).toContain('=1+1')
    })

    it('a 5,000-character receipt likewise', async () => {
      const p = await pushed('254712000002')
      const r = await receive(
        'mpesa',
        `mpesa:${p.checkoutRequestId}`,
        stkCallback(p.checkoutRequestId as string, { amount: '100', receipt: 'Q'.repeat(5000) }),
      )
      expect(r.status).toBe('review')
      expect((await show(p.id)).receiptNumber).toBeNull()
    })

    it('control: a good receipt is written and the entry applied', async () => {
      const p = await pushed('254712000003')
      const r = await receive(
        'mpesa',
        `mpesa:${p.checkoutRequestId}`,
        stkCallback(p.checkoutRequestId as string, { amount: '100', receipt: 'QGOOD00001' }),
      )
      expect(r.status).toBe('applied')
      expect(await show(p.id)).toMatchObject({ status: 'succeeded', receiptNumber: 'QGOOD00001' })
    })

    it('a C2B confirmation with a bad receipt makes no payment and goes to review', async () => {
      const c2b = (transId: string) => ({
        TransactionType: 'Pay Bill',
        TransID: transId,
        TransTime: '20261126101500',
        TransAmount: '250.00',
        BusinessShortCode: '174379',
        BillRefNumber: 'westlands',
        InvoiceNumber: '',
        OrgAccountBalance: '',
        ThirdPartyTransID: '',
        MSISDN: '254712000009',
        FirstName: 'JOHN',
      })
      const before = (await env.run('payments', 'list', '--json')).json<Payment[]>().length
      const bad = await receive('mpesa', 'mpesa:c2b-bad', c2b('@SUM(1+1)'))
      expect(bad).toMatchObject({ status: 'review', paymentId: null })
      expect(bad.note).toBe(
        'C2B receipt "@SUM(1+1)" refused (an M-Pesa receipt is 10 capital letters or digits); no payment recorded: check the transaction with Safaricom',
      )
      expect((await env.run('payments', 'list', '--json')).json<Payment[]>()).toHaveLength(before)
      // Control: the same confirmation with a real receipt becomes a payment.
      const good = await receive('mpesa', 'mpesa:c2b-good', c2b('QC2BGOOD01'))
      expect(good.status).toBe('applied')
      expect(await show(good.paymentId as string)).toMatchObject({
        status: 'succeeded',
        receiptNumber: 'QC2BGOOD01',
      })
    })
  })
})
