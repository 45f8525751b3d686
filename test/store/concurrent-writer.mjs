// Child process for the SQLite concurrency test: N read-then-write transactions on one store.
// argv: <db path> <writer id> <count> <mode: immediate|deferred>
import { sql } from 'kysely'
import { openStore } from '../../dist/src/store/connect.js'

const [path, id, count, mode] = process.argv.slice(2)
const store = await openStore(path, { busyTimeoutMs: 20_000 })
let failures = 0
for (let i = 0; i < Number(count); i++) {
  const body = async (trx) => {
    const row = await trx
      .selectFrom('settings')
      .select('value')
      .where('key', '=', 'counter')
      .executeTakeFirst()
    // Yield so the other writers interleave between our read and our write.
    await new Promise((r) => setImmediate(r))
    const next = Number(row?.value ?? '0') + 1
    await trx
      .updateTable('settings')
      .set({ value: String(next) })
      .where('key', '=', 'counter')
      .execute()
    await sql`insert into settings (key, value, updated_at) values (${`w${id}-${i}`}, '1', 'x')`.execute(
      trx,
    )
  }
  try {
    if (mode === 'immediate') await store.write(body)
    else await store.db.transaction().execute(body)
  } catch (err) {
    failures++
    if (!/locked|busy/i.test(String(err?.message))) throw err
  }
}
await store.close()
process.stdout.write(JSON.stringify({ failures }))
