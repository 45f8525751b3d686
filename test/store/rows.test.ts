import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../../src/store/connect.js'
import {
  finderById,
  inserter,
  listNewestFirst,
  rowsWhere,
  updateById,
  updateWhere,
  valueWhere,
} from '../../src/store/rows.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess } from '../helpers/run-cli.js'

// The shared store helpers (src/store/rows.ts) on both dialects: equality, null as `is null`,
// an undefined value refused (kysely would drop it and widen the query), and newest-first paging.
describe.each(DIALECTS)('the rows helpers on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('against a migrated store', () => {
    const s = useStoreEnv(name)
    let store: Store
    const alert = (id: string, openedAt: string, closedAt: string | null) => ({
      id,
      code: 'c',
      subject: id,
      branch_id: null,
      severity: 'warning',
      message: 'm',
      value: null,
      threshold: null,
      opened_at: openedAt,
      closed_at: closedAt,
    })

    beforeAll(async () => {
      const r = await runInProcess(['init'], { env: s.env })
      expect(r.code, r.stderr).toBe(0)
      store = await openStore(s.db)
      const add = inserter('alerts')
      for (let i = 1; i <= 5; i++)
        await add(store.db, alert(`a${i}`, `2026-11-0${i}T00:00:00.000Z`, i % 2 ? null : 'x'))
    })
    afterAll(async () => {
      await store?.close()
    })

    it('rowsWhere matches every value, a null as `is null`', async () => {
      const open = await rowsWhere(store.db, 'alerts', { code: 'c', closed_at: null })
        .orderBy('id')
        .execute()
      expect(open.map((a) => a.id)).toEqual(['a1', 'a3', 'a5'])
      expect(await finderById('alerts')(store.db, 'a2')).toMatchObject({ id: 'a2', closed_at: 'x' })
      expect(await finderById('alerts')(store.db, 'nope')).toBeUndefined()
    })

    it('an undefined value is refused, never dropped (control: without it every row matches)', async () => {
      const id: string = undefined as unknown as string
      expect(() => rowsWhere(store.db, 'alerts', { id })).toThrow('no value for the column id')
      expect(() => updateWhere(store.db, 'alerts', { message: 'all' }, { id })).toThrow(
        'no value for the column id',
      )
      expect(await rowsWhere(store.db, 'alerts', { code: 'c' }).execute()).toHaveLength(5)
    })

    it('updateWhere and updateById change only the matching rows; valueWhere reads one column', async () => {
      await updateWhere(store.db, 'alerts', { message: 'closed' }, { closed_at: 'x' }).execute()
      await updateById('alerts')(store.db, 'a1', { message: 'first' })
      const rows = await rowsWhere(store.db, 'alerts', { code: 'c' }).orderBy('id').execute()
      expect(rows.map((a) => a.message)).toEqual(['first', 'closed', 'm', 'closed', 'm'])
      expect(await valueWhere(store.db, 'alerts', 'subject', { id: 'a3' })).toBe('a3')
      expect(await valueWhere(store.db, 'alerts', 'subject', { id: 'nope' })).toBeUndefined()
    })

    it('listNewestFirst: filters, since (in) / until (out), and keyset pages through every row', async () => {
      const list = (page: Parameters<typeof listNewestFirst<'alerts'>>[4], code?: string) =>
        listNewestFirst(store.db, 'alerts', 'opened_at', { code }, page).then((r) =>
          r.map((a) => a.id),
        )
      expect(await list({})).toEqual(['a5', 'a4', 'a3', 'a2', 'a1'])
      expect(await list({}, '')).toEqual(['a5', 'a4', 'a3', 'a2', 'a1']) // empty: no filter
      expect(await list({}, 'other')).toEqual([])
      expect(
        await list({ since: '2026-11-02T00:00:00.000Z', until: '2026-11-04T00:00:00.000Z' }),
      ).toEqual(['a3', 'a2'])
      const seen: string[] = []
      let last: Awaited<ReturnType<typeof listNewestFirst<'alerts'>>>[number] | undefined
      for (;;) {
        const page = await listNewestFirst(store.db, 'alerts', 'opened_at', {}, { limit: 2, last })
        seen.push(...page.map((a) => a.id))
        last = page.at(-1)
        if (page.length < 2) break
      }
      expect(seen).toEqual(['a5', 'a4', 'a3', 'a2', 'a1'])
    })
  })
})
