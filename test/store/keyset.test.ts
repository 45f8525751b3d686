import { afterAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.js'
import { listInbox } from '../../src/callbacks/inbox-store.js'
import { listPayments } from '../../src/payments/payments-store.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess, testRuntime } from '../helpers/run-cli.js'

// Keyset pages (newest first, cursor = the last row's (time, id) as a row value): every row once,
// in order, ties on the time broken by id, on both dialects.
describe.each(DIALECTS)('keyset pages ($name)', ({ name, enabled }) => {
  describe.runIf(enabled)('payments and callbacks', () => {
    const s = useStoreEnv(name)
    let app: ReturnType<typeof createApp> | undefined
    afterAll(async () => {
      await app?.close()
    })

    it('every row exactly once, newest first, across pages of 3', async () => {
      for (const args of [
        ['init'],
        ['tenant', 'add', 'acme', '--name', 'Acme'],
        ['branch', 'add', 'b1', '--tenant', 'acme', '--name', 'B1', '--currency', 'KES'],
      ]) {
        const r = await runInProcess(args, { env: s.env })
        expect(r.code, r.stderr).toBe(0)
      }
      app = createApp(testRuntime({ env: s.env }).rt, {})
      const db = (await app.store()).db
      const b = await db.selectFrom('branches').selectAll().executeTakeFirstOrThrow()
      // Three instants, several rows each (ties broken by id).
      const times = [
        '2026-11-01T10:00:00.000Z',
        '2026-11-02T10:00:00.000Z',
        '2026-11-03T10:00:00.000Z',
      ]
      const ids: { id: string; at: string }[] = []
      for (const [t, at] of times.entries())
        for (let i = 0; i < 4; i++) ids.push({ id: `pay_${t}${'abcd'[i]}`, at })
      for (const { id, at } of ids) {
        await db
          .insertInto('payments')
          .values({
            id,
            tenant_id: b.tenant_id,
            branch_id: b.id,
            order_id: null,
            amount_minor: 100,
            currency: 'KES',
            refunded_minor: 0,
            method: 'cash',
            customer_type: 'regular',
            phone: null,
            gateway: 'cash',
            status: 'succeeded',
            failure_code: null,
            failure_message: null,
            routing: '{}',
            idempotency_key: null,
            receipt_number: null,
            gateway_ref: null,
            fee_minor: null,
            fee_rate_bp: null,
            fee_flat_minor: null,
            fee_currency: null,
            settlement_status: 'unsettled',
            settlement_batch_id: null,
            next_check_at: null,
            check_count: 0,
            created_at: at,
            updated_at: at,
            completed_at: at,
          })
          .execute()
        await db
          .insertInto('callback_inbox')
          .values({
            id: id.replace('pay_', 'cb_'),
            dedupe_key: `cash:${id}`,
            gateway: 'mpesa',
            branch_id: b.id,
            tenant_id: b.tenant_id,
            status: 'applied',
            received_at: at,
            body: '{}',
            headers: '{}',
            remote_addr: null,
            gateway_ref: null,
            duplicates: 0,
            last_duplicate_at: null,
            attempts: 0,
            next_attempt_at: null,
            lease_until: null,
            last_error: null,
            note: null,
            payment_id: null,
            processed_at: null,
            updated_at: at,
          })
          .execute()
      }
      const expected = [...ids]
        .sort((x, y) => (x.at === y.at ? (x.id < y.id ? 1 : -1) : x.at < y.at ? 1 : -1))
        .map((x) => x.id)

      const seen: string[] = []
      let last: Awaited<ReturnType<typeof listPayments>>[number] | undefined
      for (;;) {
        const page = await listPayments(db, { limit: 3, last })
        seen.push(...page.map((p) => p.id))
        last = page.at(-1)
        if (!last || page.length < 3) break
      }
      expect(seen).toEqual(expected)

      const inbox: string[] = []
      let after: Awaited<ReturnType<typeof listInbox>>[number] | undefined
      for (;;) {
        const page = await listInbox(db, { limit: 5, last: after })
        inbox.push(...page.map((p) => p.id))
        after = page.at(-1)
        if (!after || page.length < 5) break
      }
      expect(inbox).toEqual(expected.map((id) => id.replace('pay_', 'cb_')))
    })
  })
})
