import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/connect.js'
import { migrateToLatest } from '../../src/store/migrate.js'
import { tempHome } from '../helpers/temp-home.js'

const WRITER = fileURLToPath(new URL('./concurrent-writer.mjs', import.meta.url))
const home = tempHome()
const dbPath = `${home.home}/dsh.db`

function writer(
  id: number,
  count: number,
  mode: 'immediate' | 'deferred',
): Promise<{ failures: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dbPath, String(id), String(count), mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('close', (code) =>
      code === 0
        ? resolve(JSON.parse(out))
        : reject(new Error(`writer ${id} exited ${code}: ${err}`)),
    )
  })
}

async function counter(): Promise<number> {
  const store = await openStore(dbPath)
  try {
    const row = await store.db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', 'counter')
      .executeTakeFirstOrThrow()
    return Number(row.value)
  } finally {
    await store.close()
  }
}

async function resetCounter() {
  const store = await openStore(dbPath)
  await store.write(async (trx) => {
    await trx.deleteFrom('settings').execute()
    await trx
      .insertInto('settings')
      .values({ key: 'counter', value: '0', updated_at: 'x' })
      .execute()
  })
  await store.close()
}

beforeAll(async () => {
  const store = await openStore(dbPath, { create: true })
  await migrateToLatest(store)
  await store.close()
})
afterAll(() => home.cleanup())

describe('SQLite write transactions across processes', () => {
  it('BEGIN IMMEDIATE: four processes doing read-then-write lose no update and never see "database is locked"', async () => {
    await resetCounter()
    const results = await Promise.all([1, 2, 3, 4].map((id) => writer(id, 150, 'immediate')))
    expect(results.map((r) => r.failures)).toEqual([0, 0, 0, 0])
    expect(await counter()).toBe(600)
  })

  it('control: the same work in deferred transactions does fail, so the test above has teeth', async () => {
    await resetCounter()
    const results = await Promise.all([1, 2, 3, 4].map((id) => writer(id, 150, 'deferred')))
    const failures = results.reduce((a, r) => a + r.failures, 0)
    expect(failures).toBeGreaterThan(0)
    expect(await counter()).toBe(600 - failures)
  })
})
