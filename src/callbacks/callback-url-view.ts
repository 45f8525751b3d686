import { getSetting } from '../admin/settings.js'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { usageError } from '../core/errors.js'
import { GATEWAY_TYPES, type GatewayType } from '../core/gateways/types.js'
import { parseSlug } from '../core/validate.js'
import { branchGateways } from '../gateway-config/in-force.js'
import { requireBranch } from '../tenants/branches.js'
import {
  callbackToken,
  callbackUrl,
  PUBLIC_URL_SETTING,
  rotateCallbackToken,
  SANDBOX_PUBLIC_URL,
} from './callback-url.js'
import { CALLBACK_GATEWAYS, type CallbackGateway } from './inbox.js'

export interface CallbackUrlView {
  type: CallbackGateway
  branch: string
  url: string
  /** True when --rotate made a new path token (the old URL stops working). */
  rotated: boolean
}

const TOKEN_TYPES: readonly string[] = ['mpesa', 'mpesa-kcb', 'bank']

/**
 * `dsh gateway callback-url <type> --branch <code> [--rotate]`: the full URL to register with the
 * gateway. Daraja, KCB and the bank API carry a secret path token (created on first use);
 * Stripe and Square are verified by signature, so their URL names the branch.
 */
export async function callbackUrlFor(
  ctx: Ctx,
  typeIn: string,
  branchCode: string,
  rotate: boolean,
): Promise<CallbackUrlView> {
  if (!(CALLBACK_GATEWAYS as readonly string[]).includes(typeIn))
    throw usageError(
      'unknown_callback_type',
      `"${typeIn}" has no callbacks`,
      `use one of ${CALLBACK_GATEWAYS.join(', ')}`,
    )
  const type = typeIn as CallbackGateway
  if (rotate && !TOKEN_TYPES.includes(type))
    throw usageError(
      'nothing_to_rotate',
      `${type} callbacks are verified by their signature, not a path token`,
      `rotate the webhook secret with \`dsh gateway setup ${type} --branch ${branchCode} …\` instead`,
    )
  const store = await ctx.store()
  const branch = await requireBranch(store.db, parseSlug(branchCode, 'branch code'))
  if (rotate) {
    await store.write(async (trx) => {
      await rotateCallbackToken(ctx, trx, branch.id, type)
      // The token itself never goes into the audit log.
      await audit(ctx, trx, {
        action: 'gateway.callback_token_rotate',
        tenant: branch.tenant_slug,
        branch: branch.code,
        request: { type },
      })
    })
  }
  let url: string
  if ((GATEWAY_TYPES as readonly string[]).includes(type)) {
    const gw = (await branchGateways(store.db, branch)).find((g) => g.type === type)
    url = await callbackUrl(ctx, store.db, branch, type as GatewayType, gw?.settings['environment'])
  } else {
    const base = (await getSetting(store.db, PUBLIC_URL_SETTING)) ?? SANDBOX_PUBLIC_URL
    const token = await callbackToken(ctx, store.db, branch.id, type, true)
    url = `${base.replace(/\/+$/, '')}/callbacks/${type}/${token}`
  }
  return { type, branch: branch.code, url, rotated: rotate }
}
