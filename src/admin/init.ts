import type { App } from '../app.js'
import { audit } from '../audit/audit.js'
import { migrateToLatest } from '../store/migrate.js'
import { ensureKeyFile, keyFilePath } from '../vault/key-file.js'
import { auditKey } from '../vault/vault.js'

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
  await recordMigrations(app, migrationsApplied)
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

/** Makes the audit key if there is none, and records applied migrations in the chain. */
export async function recordMigrations(app: App, applied: string[]): Promise<void> {
  const store = await app.rawStore()
  await store.write(async (trx) => {
    await auditKey(app, trx, true)
    if (applied.length > 0) await audit(app, trx, { action: 'store.migrate', request: { applied } })
  })
}
