import { randomBytes } from 'node:crypto'
import { statSync } from 'node:fs'
import type { Kysely } from 'kysely'
import { getSetting, putSetting } from '../admin/settings.js'
import type { Ctx } from '../context.js'
import { DshError } from '../core/errors.js'
import type { Database } from '../store/schema.js'
import { decryptSecret, encryptSecret } from './crypto.js'
import { keyFilePath, nextKeyFilePath } from './key-file.js'
import { type KeyRing, keyFileTooOpen, loadKeyRing, usesEnvKey } from './master-key.js'

interface LoadedRing {
  ring: KeyRing
  /** The key files' identity when loaded: a rotation by another process changes it. */
  stamp: string
}

/** Rings by home and key source, shared by every context of this process. */
const rings = new Map<string, LoadedRing>()

const ringKey = (ctx: Ctx) =>
  `${ctx.home}\u0000${ctx.env['DSH_MASTER_KEY'] ?? ''}\u0000${ctx.env['DSH_MASTER_KEY_FILE'] ?? ''}\u0000${ctx.env['DSH_NEW_MASTER_KEY'] ?? ''}`

function fileStamp(path: string): string {
  try {
    const st = statSync(path)
    return `${st.ino}:${st.mtimeMs}:${st.size}`
  } catch {
    return '-'
  }
}

/** Environment keys are fixed for the process; key files can be rotated under it. */
const stampOf = (ctx: Ctx) =>
  ctx.env['DSH_MASTER_KEY']
    ? 'env'
    : ctx.env['DSH_MASTER_KEY_FILE']
      ? fileStamp(ctx.env['DSH_MASTER_KEY_FILE'])
      : `${fileStamp(keyFilePath(ctx.home))}|${fileStamp(nextKeyFilePath(ctx.home))}`

/**
 * The master key ring (exit 7 when missing or wrong), re-read whenever `master.key` or
 * `master.key.next` changed since it was loaded: a `dsh keys rotate` in another process applies
 * to a running daemon without a restart, and new secrets are never sealed with a retired key.
 */
export function keyRing(ctx: Ctx): KeyRing {
  const id = ringKey(ctx)
  const stamp = stampOf(ctx)
  const known = rings.get(id)
  if (known && known.stamp === stamp) return known.ring
  const ring = loadKeyRing(ctx.home, ctx.env)
  if (!usesEnvKey(ctx.env) && keyFileTooOpen(ctx.home)) {
    ctx.warn(
      `${ctx.home}/master.key can be read by other users; run: chmod 600 ${ctx.home}/master.key`,
    )
  }
  rings.set(id, { ring, stamp })
  return ring
}

/** Forgets the cached ring (after a rotation). */
export function resetKeyRing(ctx: Ctx): void {
  rings.delete(ringKey(ctx))
}

export const seal = (ctx: Ctx, plaintext: string, context: string): string =>
  encryptSecret(keyRing(ctx).primary, plaintext, context)

/**
 * Opens an envelope. One naming a key id this process does not hold makes it re-read the key
 * files once (a rotation finished within the file system's time resolution) before it fails.
 */
export function unseal(ctx: Ctx, envelope: string, context: string): string {
  try {
    return decryptSecret(keyRing(ctx), envelope, context)
  } catch (err) {
    if (!(err instanceof DshError) || err.code !== 'wrong_master_key') throw err
    resetKeyRing(ctx)
    return decryptSecret(keyRing(ctx), envelope, context)
  }
}

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
