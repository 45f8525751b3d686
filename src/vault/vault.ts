import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { getSetting, putSetting } from '../admin/settings-store.js'
import type { App } from '../app.js'
import type { Database } from '../store/schema.js'
import { decryptSecret, encryptSecret } from './crypto.js'
import { type KeyRing, keyFileTooOpen, loadKeyRing, usesEnvKey } from './master-key.js'

const rings = new WeakMap<App, KeyRing>()

/** The master key ring for this process, loaded once (exit 7 when missing or wrong). */
export function keyRing(app: App): KeyRing {
  let ring = rings.get(app)
  if (!ring) {
    ring = loadKeyRing(app.home, app.rt.env)
    if (!usesEnvKey(app.rt.env) && keyFileTooOpen(app.home)) {
      app.out.warn(
        `${app.home}/master.key can be read by other users; run: chmod 600 ${app.home}/master.key`,
      )
    }
    rings.set(app, ring)
  }
  return ring
}

/** Forgets the cached ring (after a rotation). */
export function resetKeyRing(app: App): void {
  rings.delete(app)
}

export const seal = (app: App, plaintext: string, context: string): string =>
  encryptSecret(keyRing(app).primary, plaintext, context)

export const unseal = (app: App, envelope: string, context: string): string =>
  decryptSecret(keyRing(app), envelope, context)

export const AUDIT_KEY_SETTING = 'audit_key'
export const AUDIT_KEY_CONTEXT = 'settings:audit_key'

/**
 * The audit chain's HMAC key, kept in the store encrypted by the master key, made on first use.
 * Without the master key nobody can recompute a row's hash after editing it.
 */
export async function auditKey(
  app: App,
  db: Kysely<Database>,
  create: boolean,
): Promise<Buffer | null> {
  const sealed = await getSetting(db, AUDIT_KEY_SETTING)
  if (sealed) return Buffer.from(unseal(app, sealed, AUDIT_KEY_CONTEXT), 'base64')
  if (!create) return null
  const key = randomBytes(32)
  await putSetting(
    db,
    AUDIT_KEY_SETTING,
    seal(app, key.toString('base64'), AUDIT_KEY_CONTEXT),
    app.clock.now().toISOString(),
  )
  return key
}
