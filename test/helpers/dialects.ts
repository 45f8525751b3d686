import { afterAll, beforeAll } from 'vitest'
import { validateOutbox } from './pain001.js'
import { freshPgDatabase, pgAvailable } from './pg.js'
import { tempHome } from './temp-home.js'

export interface DialectTarget {
  name: 'sqlite' | 'postgres'
  /** Whether this dialect runs here (PostgreSQL needs DSH_PG_URL). */
  enabled: boolean
}

/** The dialects every store test runs on. Use with describe.each / describe.runIf. */
export const DIALECTS: DialectTarget[] = [
  { name: 'sqlite', enabled: true },
  { name: 'postgres', enabled: pgAvailable() },
]

export interface StoreEnv {
  /** DSH_HOME for this suite. */
  home: string
  /** The --db value: a SQLite file in the home, or a fresh PostgreSQL database's URL. */
  db: string
  env: Record<string, string>
}

/**
 * A fresh store location per suite: set up in beforeAll, removed in afterAll. Call inside a
 * describe; read the returned object's fields inside tests.
 */
export function useStoreEnv(dialect: DialectTarget['name']): StoreEnv {
  const state = {} as StoreEnv
  let cleanup: (() => Promise<void>) | undefined
  beforeAll(async () => {
    const { home, cleanup: rmHome } = tempHome()
    let db = `${home}/dsh.db`
    let drop: (() => Promise<void>) | undefined
    if (dialect === 'postgres') {
      const fresh = await freshPgDatabase()
      db = fresh.url
      drop = fresh.drop
    }
    Object.assign(state, { home, db, env: { DSH_HOME: home, DSH_DB: db } })
    cleanup = async () => {
      try {
        // Every pain.001 a store test made validates against the ISO schema (issue 22).
        validateOutbox(home)
      } finally {
        await drop?.()
        rmHome()
      }
    }
  })
  afterAll(async () => {
    await cleanup?.()
  })
  return state
}
