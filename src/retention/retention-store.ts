import { sql } from 'kysely'
import type { Store } from '../store/connect.js'

/**
 * SQLite only: while a prune runs, this connection's automatic WAL checkpoint (which runs inside
 * the commit that crosses 1000 pages, and writes and syncs the database file) is turned off and
 * a passive checkpoint runs between transactions instead, so no prune transaction carries one.
 * A passive checkpoint never blocks writers. `restore` turns the automatic one back on.
 */
export async function manualCheckpoints(store: Store): Promise<{
  between(): Promise<void>
  restore(): Promise<void>
}> {
  if (store.dialect !== 'sqlite') return { between: async () => {}, restore: async () => {} }
  const previous = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(
    store.db,
  )
  const pages = Number(previous.rows[0]?.wal_autocheckpoint ?? 1000)
  await sql`pragma wal_autocheckpoint = 0`.execute(store.db)
  return {
    async between() {
      await sql`pragma wal_checkpoint(passive)`.execute(store.db)
    },
    async restore() {
      await sql.raw(`pragma wal_autocheckpoint = ${pages}`).execute(store.db)
    },
  }
}
