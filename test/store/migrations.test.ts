import { type Kysely, Migrator, sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { MIGRATIONS } from '../../migrations/index.js'
import { openStore, type Store } from '../../src/store/connect.js'
import { assertMigrated, migrateToLatest, schemaStatus } from '../../src/store/migrate.js'
import { dsh } from '../helpers/cli.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'

const migrator = (store: Store) =>
  new Migrator({
    db: store.db as Kysely<unknown>,
    provider: { getMigrations: async () => ({ ...MIGRATIONS }) },
  })

describe.each(DIALECTS)('migrations on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('migrator', () => {
    const s = useStoreEnv(name)

    it('an unmigrated store stops every command with exit 7 and a hint', async () => {
      const store = await openStore(s.db, { create: true })
      await expect(assertMigrated(store)).rejects.toMatchObject({
        kind: 'config',
        code: 'store_not_migrated',
      })
      await store.close()
      const r = await dsh(['branch', 'list'], { env: s.env })
      expect(r.code).toBe(7)
      expect(r.stderr).toContain('dsh init')
    })

    it('goes up, down to nothing and up again', async () => {
      const store = await openStore(s.db, { create: true })
      try {
        expect(await migrateToLatest(store)).toEqual(Object.keys(MIGRATIONS).sort())
        expect((await schemaStatus(store)).pending).toEqual([])
        await store.db
          .insertInto('tenants')
          .values({
            id: 't1',
            slug: 'a',
            name: 'A',
            currency: 'KES',
            created_at: 'x',
            updated_at: 'x',
          })
          .execute()
        const m = migrator(store)
        for (let i = 0; i < Object.keys(MIGRATIONS).length; i++) {
          const { error } = await m.migrateDown()
          expect(error).toBeUndefined()
        }
        expect((await schemaStatus(store)).pending.length).toBe(Object.keys(MIGRATIONS).length)
        expect(await migrateToLatest(store)).toEqual(Object.keys(MIGRATIONS).sort())
        await assertMigrated(store)
      } finally {
        await store.close()
      }
    })

    it('amount columns hold values past 32 bits', async () => {
      // Guard for later money tables: the dialect must keep 64-bit integers exact.
      const store = await openStore(s.db)
      try {
        const big = 9_007_199_254_740_991n
        const row = await sql<{
          v: string | number | bigint
        }>`select cast(${big.toString()} as bigint) as v`.execute(store.db)
        expect(BigInt(row.rows[0]?.v ?? 0)).toBe(big)
      } finally {
        await store.close()
      }
    })

    it('a store migrated by a newer dsh stops with exit 7', async () => {
      const store = await openStore(s.db)
      try {
        await sql`insert into kysely_migration (name, timestamp) values ('2099_01_01_0001_future', '2099-01-01T00:00:00.000Z')`.execute(
          store.db,
        )
      } finally {
        await store.close()
      }
      const r = await dsh(['branch', 'list', '--json'], { env: s.env })
      expect(r.code).toBe(7)
      expect(JSON.parse(r.stderr).error).toMatchObject({
        code: 'store_too_new',
        message: expect.stringContaining('newer dsh'),
      })
      const init = await dsh(['init'], { env: s.env })
      expect(init.code).toBe(7)
    })
  })
})
