import type { Ctx } from '../context.js'
import { DshError } from '../core/errors.js'
import { auditKey, unseal } from '../vault/vault.js'
import { listGatewaySecrets } from './gateways-store.js'
import { parseJsonObject, secretContext } from './view.js'

/**
 * Whether every stored secret opens with the master key this process holds: 'ok', or the code
 * and context of the first that does not (never the secret itself). For /healthz: a daemon that
 * cannot open its secrets cannot take payments, whatever else works.
 */
export async function storedSecretsHealth(ctx: Ctx): Promise<string> {
  try {
    const db = (await ctx.store()).db
    await auditKey(ctx, db, false)
    for (const row of await listGatewaySecrets(db))
      for (const [field, envelope] of Object.entries(parseJsonObject(row.secrets)))
        unseal(ctx, envelope, secretContext(row.id, field))
    return 'ok'
  } catch (err) {
    if (err instanceof DshError) return `${err.code}: ${err.message}`
    throw err
  }
}
