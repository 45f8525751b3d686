import type { Kysely } from 'kysely'
import { getSetting, putSetting } from '../admin/settings.js'
import { audit } from '../audit/audit.js'
import { sealedSettings } from '../callbacks/callback-url.js'
import type { Ctx } from '../context.js'
import {
  listGatewaySecrets,
  parseJsonObject,
  secretContext,
  setGatewaySecrets,
} from '../gateway-config/view.js'
import { countBankSecrets, resealBankSecrets } from '../settlement/accounts.js'
import type { Database } from '../store/schema.js'
import { encryptSecret, keyIdOf, reencrypt } from './crypto.js'
import { retireMacKey } from './mac-keys.js'
import { type KeyRing, loadKeyRing, type MasterKey, usesEnvKey } from './master-key.js'
import { beginRotation, finishRotation, rotationPending } from './rotation.js'
import { AUDIT_KEY_CONTEXT, AUDIT_KEY_SETTING, resetKeyRing } from './vault.js'

export interface RotateResult {
  dryRun: boolean
  fromKeyId: string
  toKeyId: string | null
  secretsReencrypted: number
  resumed: boolean
  /** Under DSH_MASTER_KEY: the operator must now deploy the new key. */
  nextStep: string | null
}

/**
 * `dsh keys rotate`: a new master key, every secret re-encrypted in one transaction, then the
 * key file swapped. An interruption at any point leaves a store that still decrypts.
 */
export async function rotateKeys(
  ctx: Ctx,
  opts: { dryRun?: boolean | undefined },
): Promise<RotateResult> {
  const store = await ctx.store()
  const before = loadKeyRing(ctx.home, ctx.env)
  const resumed = rotationPending(ctx.home, ctx.env)
  const configs = await listGatewaySecrets(store.db)
  const count =
    configs.reduce((n, c) => n + Object.keys(parseJsonObject(c.secrets)).length, 0) +
    ((await getSetting(store.db, AUDIT_KEY_SETTING)) ? 1 : 0) +
    (await sealedSettings(store.db)).length +
    (await countBankSecrets(store.db))
  if (opts.dryRun) {
    return {
      dryRun: true,
      fromKeyId: before.primary.id,
      toKeyId: null,
      secretsReencrypted: count,
      resumed,
      nextStep: null,
    }
  }
  const next = beginRotation(ctx.home, ctx.env)
  const ring = loadKeyRing(ctx.home, ctx.env)
  // Backups taken under the keys being retired stay verifiable: their MAC keys (never their
  // encryption use) are kept beside the key file before anything is re-encrypted.
  for (const k of ring.keys) if (k.id !== next.id) retireMacKey(ctx.home, k)
  const ringWithNext = ring.keys.some((k) => k.id === next.id)
    ? ring
    : { primary: ring.primary, keys: [...ring.keys, next] }
  let n = 0
  await store.write(async (trx) => {
    // The audit row is chained with the audit key before that key is re-sealed; the HMAC key
    // itself never changes, so the chain stays verifiable.
    await audit(ctx, trx, {
      action: 'keys.rotate',
      target: next.id,
      request: { fromKeyId: before.primary.id, toKeyId: next.id, resumed },
    })
    n = await reencryptStore(trx, ringWithNext, next, ctx.clock.now().toISOString())
  })
  // A process that loaded its keys before the rotation began may have written under the old key
  // since; sweep once more so nothing is left that the retired key alone can open.
  await store.write(async (trx) => {
    for (const c of await listGatewaySecrets(trx)) {
      const sealed = parseJsonObject(c.secrets)
      if (Object.values(sealed).every((e) => keyIdOf(e) === next.id)) continue
      const out: Record<string, string> = {}
      for (const [field, envelope] of Object.entries(sealed))
        out[field] = reencrypt(ringWithNext, next, envelope, secretContext(c.id, field))
      await setGatewaySecrets(trx, c.id, JSON.stringify(out))
    }
    for (const row of await sealedSettings(trx)) {
      if (!row.plain && keyIdOf(row.value) === next.id) continue
      const value = row.plain
        ? encryptSecret(next, row.value, row.context)
        : reencrypt(ringWithNext, next, row.value, row.context)
      await putSetting(trx, row.key, value, ctx.clock.now().toISOString())
    }
    await resealBankSecrets(trx, (envelope, context) =>
      keyIdOf(envelope) === next.id ? null : reencrypt(ringWithNext, next, envelope, context),
    )
  })
  finishRotation(ctx.home, ctx.env)
  resetKeyRing(ctx)
  return {
    dryRun: false,
    fromKeyId: before.primary.id,
    toKeyId: next.id,
    secretsReencrypted: n,
    resumed,
    nextStep: usesEnvKey(ctx.env)
      ? 'set DSH_MASTER_KEY to the value of DSH_NEW_MASTER_KEY for every dsh process, then unset DSH_NEW_MASTER_KEY'
      : null,
  }
}

/** Settings held sealed by the vault, with the context each is bound to. */
const SEALED_SETTINGS: readonly [string, string][] = [
  [AUDIT_KEY_SETTING, AUDIT_KEY_CONTEXT],
  ['alert_webhook_secret', 'settings:alert_webhook_secret'],
]

/**
 * Re-encrypts every secret the store holds under `to`, opening each with `ring` (which must hold
 * the key it was sealed with), in the caller's transaction. Returns how many were re-encrypted.
 * Key rotation and the restore of a backup taken under an older key both use it.
 */
export async function reencryptStore(
  trx: Kysely<Database>,
  ring: KeyRing,
  to: MasterKey,
  at: string,
): Promise<number> {
  let n = 0
  for (const c of await listGatewaySecrets(trx)) {
    const sealed = parseJsonObject(c.secrets)
    const out: Record<string, string> = {}
    for (const [field, envelope] of Object.entries(sealed)) {
      out[field] = reencrypt(ring, to, envelope, secretContext(c.id, field))
      n++
    }
    await setGatewaySecrets(trx, c.id, JSON.stringify(out))
  }
  for (const [key, context] of SEALED_SETTINGS) {
    const sealed = await getSetting(trx, key)
    if (!sealed) continue
    await putSetting(trx, key, reencrypt(ring, to, sealed, context), at)
    n++
  }
  // Callback path tokens and their look-up key (each bound to its own settings key); a token an
  // older dsh stored plain is sealed on the way.
  for (const row of await sealedSettings(trx)) {
    const value = row.plain
      ? encryptSecret(to, row.value, row.context)
      : reencrypt(ring, to, row.value, row.context)
    await putSetting(trx, row.key, value, at)
    n++
  }
  // The bank API key and webhook secret of http settlement accounts.
  n += await resealBankSecrets(trx, (envelope, context) => reencrypt(ring, to, envelope, context))
  return n
}
