import type { App } from '../app.js'
import { migrateToLatest } from '../store/migrate.js'
import { ensureKeyFile, keyFilePath } from '../vault/key-file.js'

export interface InitResult {
  home: string
  store: string
  dialect: string
  keySource: 'file' | 'env'
  keyFile: string | null
  keyCreated: boolean
  migrationsApplied: string[]
}

/** `dsh init`: idempotent; a second run finds everything in place and changes nothing. */
export async function initialise(app: App): Promise<InitResult> {
  const fromEnv = Boolean(app.rt.env['DSH_MASTER_KEY'])
  const keyCreated = fromEnv ? false : ensureKeyFile(app.home)
  const store = await app.rawStore()
  const migrationsApplied = await migrateToLatest(store)
  return {
    home: app.home,
    store: store.location,
    dialect: store.dialect,
    keySource: fromEnv ? 'env' : 'file',
    keyFile: fromEnv ? null : keyFilePath(app.home),
    keyCreated,
    migrationsApplied,
  }
}
