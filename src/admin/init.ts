import { existsSync } from 'node:fs'
import type { App } from '../app.js'
import { audit } from '../audit/audit.js'
import { configError } from '../core/errors.js'
import type { Store } from '../store/connect.js'
import { migrateToLatest } from '../store/migrate.js'
import { keyIdOf } from '../vault/crypto.js'
import { ensureKeyFile, keyFilePath } from '../vault/key-file.js'
import { usesEnvKey } from '../vault/master-key.js'
import { AUDIT_KEY_SETTING, auditKey } from '../vault/vault.js'
import { getSetting } from './settings-store.js'

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
  const fromEnv = usesEnvKey(app.rt.env)
  const store = await app.rawStore()
  if (!fromEnv && !existsSync(keyFilePath(app.home))) await refuseLostKey(store, app.home)
  const keyCreated = fromEnv ? false : ensureKeyFile(app.home)
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

/**
 * A store already in use has its audit key (and maybe gateway secrets) sealed with a master key.
 * When that key's file is missing, a new key could open none of them: nothing is written, and the
 * message says which key to restore.
 */
async function refuseLostKey(store: Store, home: string): Promise<void> {
  let sealed: string | undefined
  try {
    sealed = await getSetting(store.db, AUDIT_KEY_SETTING)
  } catch {
    return // a new store: no settings table yet
  }
  if (!sealed) return
  let keyId = 'unknown'
  try {
    keyId = keyIdOf(sealed)
  } catch {
    // a damaged envelope: the message still stands
  }
  throw configError(
    'master_key_missing',
    `the store at ${store.location} is in use, but its master key ${keyFilePath(home)} is missing: nothing was written`,
    `restore master.key (key id ${keyId}) from your backup into ${home}, or set DSH_MASTER_KEY to it; a new key could not open the stored secrets`,
  )
}

/** Makes the audit key if there is none, and records applied migrations in the chain. */
export async function recordMigrations(app: App, applied: string[]): Promise<void> {
  const store = await app.rawStore()
  await store.write(async (trx) => {
    await auditKey(app, trx, true)
    if (applied.length > 0) await audit(app, trx, { action: 'store.migrate', request: { applied } })
  })
}
