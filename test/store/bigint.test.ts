import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findPayment, insertPayment } from '../../src/payments/payments-store.js'
import { openStore, type Store } from '../../src/store/connect.js'
import { findBranchByCode } from '../../src/tenants/branches-store.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess } from '../helpers/run-cli.js'

// 2^53 + 1: the first integer a JavaScript number cannot hold (it rounds to 2^53).
const BIG = 2n ** 53n + 1n

describe.each(DIALECTS)('BIGINT amount columns on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('round trip', () => {
    const s = useStoreEnv(name)
    let store: Store

    beforeAll(async () => {
      for (const args of [
        ['init'],
        ['tenant', 'add', 'acme', '--name', 'Acme'],
        ['branch', 'add', 'westlands', '--tenant', 'acme', '--name', 'W', '--currency', 'KES'],
        ['gateway', 'setup', 'cash', '--tenant', 'acme'],
      ]) {
        const r = await runInProcess(args, { env: s.env })
        expect(r.code, r.stderr).toBe(0)
      }
      store = await openStore(s.db)
    })
    afterAll(async () => {
      await store?.close()
    })

    it('control: 2^53 + 1 does not survive a trip through a JavaScript number', () => {
      expect(BigInt(Number(BIG))).toBe(2n ** 53n)
      expect(BigInt(Number(BIG))).not.toBe(BIG)
    })

    it('payments.amount_minor, refunded_minor, fee_minor and fee_flat_minor keep 2^53 + 1 exactly', async () => {
      const branch = (await findBranchByCode(store.db, 'westlands'))!
      const now = new Date().toISOString()
      await insertPayment(store.db, {
        id: 'pay_big',
        tenant_id: branch.tenant_id,
        branch_id: branch.id,
        order_id: null,
        amount_minor: BIG,
        currency: 'KES',
        refunded_minor: BIG - 2n,
        method: 'cash',
        customer_type: 'standard',
        phone: null,
        gateway: 'cash',
        status: 'succeeded',
        failure_code: null,
        failure_message: null,
        routing: '{}',
        idempotency_key: null,
        receipt_number: null,
        gateway_ref: null,
        fee_minor: BIG + 2n,
        fee_rate_bp: 0,
        fee_flat_minor: BIG,
        fee_currency: 'KES',
        settlement_status: 'unsettled',
        settlement_batch_id: null,
        next_check_at: null,
        check_count: 0,
        created_at: now,
        updated_at: now,
        completed_at: now,
      })
      const p = (await findPayment(store.db, 'pay_big'))!
      expect(BigInt(p.amount_minor)).toBe(BIG)
      expect(BigInt(p.refunded_minor)).toBe(BIG - 2n)
      expect(BigInt(p.fee_minor!)).toBe(BIG + 2n)
      expect(BigInt(p.fee_flat_minor!)).toBe(BIG)
      // What comes back is never a rounded number: a bigint or an exact decimal string.
      expect(typeof p.amount_minor).not.toBe('number')
      // Sums in SQL stay exact too.
      const sum = await sql<{
        v: string | bigint
      }>`select sum(amount_minor) as v from payments where id = 'pay_big'`.execute(store.db)
      expect(BigInt(sum.rows[0]!.v)).toBe(BIG)
      // And the value is findable by equality (no float comparison in between).
      const eq = await store.db
        .selectFrom('payments')
        .select('id')
        .where('amount_minor', '=', BIG)
        .execute()
      expect(eq.map((r) => r.id)).toEqual(['pay_big'])
    })

    it('gateway_configs fee columns keep 2^53 + 1 exactly', async () => {
      const cfg = await store.db
        .selectFrom('gateway_configs')
        .select('id')
        .where('type', '=', 'cash')
        .executeTakeFirstOrThrow()
      await store.db
        .updateTable('gateway_configs')
        .set({ transaction_fee_flat_minor: BIG, settlement_fee_minor: BIG + 4n })
        .where('id', '=', cfg.id)
        .execute()
      const row = await store.db
        .selectFrom('gateway_configs')
        .select(['transaction_fee_flat_minor', 'settlement_fee_minor'])
        .where('id', '=', cfg.id)
        .executeTakeFirstOrThrow()
      expect(BigInt(row.transaction_fee_flat_minor)).toBe(BIG)
      expect(BigInt(row.settlement_fee_minor)).toBe(BIG + 4n)
    })
  })
})
