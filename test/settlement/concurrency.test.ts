import { beforeAll, describe, expect, it } from 'vitest'
import { isUniqueViolation } from '../../src/store/errors.js'
import { dsh } from '../helpers/cli.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { addPayments, ok, seedSettlement, withStore } from './helpers.js'

interface Report {
  nothingToDo: boolean
  batches: { id: string; gateway: string; paymentCount: number; netMinor: number }[]
}

describe.each(DIALECTS)('exactly once on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('concurrent runs', () => {
    const s = useStoreEnv(name)
    beforeAll(async () => {
      await seedSettlement(s.home, s.env)
      await ok(s.env, [
        'branch',
        'settlement-account',
        'westlands',
        '--account-name',
        'Westlands Ltd',
        '--account-number',
        '0011223344',
        '--bank-name',
        'KCB',
        '--holding-hours',
        '0',
        '--transfer',
        'manual',
      ])
    })

    it('two `dsh settle --branch` processes at once make one set of batches; the other has nothing to do', async () => {
      for (const round of [1, 2, 3]) {
        const day = `2026-10-${String(10 + round).padStart(2, '0')}`
        await addPayments(
          s.db,
          Array.from({ length: 30 }, (_, i) => ({
            id: `p_r${round}_${i}`,
            branch: 'westlands',
            gateway: i % 2 === 0 ? 'cash' : 'stripe',
            amount: BigInt(1000 + i),
            currency: 'KES',
            completedAt: `2026-10-0${round}T08:00:00.000Z`,
            fee: { rateBp: 150, flat: 0n, convBp: 0 },
          })),
        )
        const args = ['settle', '--branch', 'westlands', '--date', day, '--json']
        const [a, b] = await Promise.all([dsh(args, { env: s.env }), dsh(args, { env: s.env })])
        expect(a.code, a.stderr).toBe(0)
        expect(b.code, b.stderr).toBe(0)
        const reports = [a.json<Report>(), b.json<Report>()]
        const made = reports.flatMap((r) => r.batches)
        expect(made.map((x) => x.gateway).sort()).toEqual(['cash', 'stripe'])
        expect(made.reduce((n, x) => n + x.paymentCount, 0)).toBe(30)
        expect(reports.filter((r) => r.nothingToDo)).toHaveLength(1)
      }
      const rows = await withStore(s.db, (st) =>
        st.db.selectFrom('settlement_batch_items').select('payment_id').execute(),
      )
      expect(rows).toHaveLength(90)
      expect(new Set(rows.map((r) => r.payment_id)).size).toBe(90)
      expect((await dsh(['doctor'], { env: s.env })).code).toBe(0)
    })

    it('control: the database itself refuses a second live batch for a period and a payment in two live batches', async () => {
      await withStore(s.db, async (st) => {
        const b = await st.db
          .selectFrom('settlement_batches')
          .selectAll()
          .where('kind', '=', 'transfer')
          .executeTakeFirstOrThrow()
        const twin = {
          ...b,
          id: 'stl_TWIN000000000000000000000',
          reference: 'SETTLEMENT-TWIN000000',
        }
        const e1 = await st.db
          .insertInto('settlement_batches')
          .values(twin)
          .execute()
          .catch((e) => e)
        expect(isUniqueViolation(e1)).toBe(true)
        // a failed twin is allowed: it holds no payment
        await st.db
          .insertInto('settlement_batches')
          .values({ ...twin, status: 'failed' })
          .execute()
        const item = await st.db
          .selectFrom('settlement_batch_items')
          .selectAll()
          .where('batch_id', '=', b.id)
          .executeTakeFirstOrThrow()
        const e2 = await st.db
          .insertInto('settlement_batch_items')
          .values({ ...item, batch_id: twin.id })
          .execute()
          .catch((e) => e)
        expect(isUniqueViolation(e2)).toBe(true)
        await st.db.deleteFrom('settlement_batches').where('id', '=', twin.id).execute()
      })
    })
  })
})
