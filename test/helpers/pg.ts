import { randomBytes } from 'node:crypto'

/**
 * The PostgreSQL server for tests: DSH_PG_URL (set by .ci/run). Locally, without it, PostgreSQL
 * suites skip; under CI=true they fail, so a broken CI set-up never passes silently.
 */
export const PG_URL = process.env['DSH_PG_URL']

export function pgAvailable(): boolean {
  if (PG_URL) return true
  if (process.env['CI'] === 'true') {
    throw new Error(
      'CI=true but DSH_PG_URL is not set: .ci/run must start PostgreSQL for the store tests',
    )
  }
  return false
}

/** Creates a fresh, empty database on the test server; returns its URL and a dropper. */
export async function freshPgDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!PG_URL) throw new Error('DSH_PG_URL is not set')
  const { default: pg } = await import('pg')
  const name = `dsh_t_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: PG_URL })
  await admin.connect()
  try {
    await admin.query(`create database ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(PG_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_URL })
      await c.connect()
      try {
        await c.query(`drop database if exists ${name} with (force)`)
      } finally {
        await c.end()
      }
    },
  }
}
