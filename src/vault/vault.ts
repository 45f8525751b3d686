import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { getSetting, putSetting } from '../admin/settings.js'
import type { Ctx } from '../context.js'
import type { Database } from '../store/schema.js'
import { decryptSecret, encryptSecret } from './crypto.js'
import { type KeyRing, keyFileTooOpen, loadKeyRing, usesEnvKey } from './master-key.js'

const rings = new WeakMap<Ctx, KeyRing>()

/** The master key ring for this process, loaded once (exit 7 when missing or wrong). */
export function keyRing(ctx: Ctx): KeyRing {
  let ring = rings.get(ctx)
  if (!ring) {
    ring = loadKeyRing(ctx.home, ctx.env)
    if (!usesEnvKey(ctx.env) && keyFileTooOpen(ctx.home)) {
      ctx.warn(
        `${ctx.home}/master.key can be read by other users; run: chmod 600 ${ctx.home}/master.key`,
      )
    }
    rings.set(ctx, ring)
  }
  return ring
}

/** Forgets the cached ring (after a rotation). */
export function resetKeyRing(ctx: Ctx): void {
  rings.delete(ctx)
}

export const seal = (ctx: Ctx, plaintext: string, context: string): string =>
  encryptSecret(keyRing(ctx).primary, plaintext, context)

export const unseal = (ctx: Ctx, envelope: string, context: string): string =>
  decryptSecret(keyRing(ctx), envelope, context)

export const AUDIT_KEY_SETTING = 'audit_key'
export const AUDIT_KEY_CONTEXT = 'settings:audit_key'

/**
 * The audit chain's HMAC key, kept in the store encrypted by the master key, made on first use.
 * Without the master key nobody can recompute a row's hash after editing it.
 */
export async function auditKey(
  ctx: Ctx,
  db: Kysely<Database>,
  create: boolean,
): Promise<Buffer | null> {
  const sealed = await getSetting(db, AUDIT_KEY_SETTING)
  if (sealed) return Buffer.from(unseal(ctx, sealed, AUDIT_KEY_CONTEXT), 'base64')
  if (!create) return null
  const key = randomBytes(32)
  await putSetting(
    db,
    AUDIT_KEY_SETTING,
    seal(ctx, key.toString('base64'), AUDIT_KEY_CONTEXT),
    ctx.clock.now().toISOString(),
  )
  return key
}
