import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import {
  findSettingKeyByValue,
  getSetting,
  putSetting,
  putSettingIfAbsent,
} from '../admin/settings.js'
import type { Ctx } from '../context.js'
import { configError } from '../core/errors.js'
import type { GatewayType } from '../core/gateways/types.js'
import type { Database } from '../store/schema.js'
import type { BranchWithTenant } from '../tenants/branches.js'

export const PUBLIC_URL_SETTING = 'public_url'
export const SANDBOX_PUBLIC_URL = 'http://127.0.0.1:8080'

const tokenKey = (branchId: string, type: string) => `callback_token:${branchId}:${type}`

/**
 * The secret path token of a branch's Daraja/KCB callback URL (Daraja signs nothing, so the
 * path is the proof). Random hex: never contains a word Daraja forbids in URLs.
 */
export async function callbackToken(
  ctx: Ctx,
  db: Kysely<Database>,
  branchId: string,
  type: string,
  create: boolean,
): Promise<string | undefined> {
  const existing = await getSetting(db, tokenKey(branchId, type))
  if (existing || !create) return existing
  // Insert-if-absent, then read back: two processes racing agree on one token.
  await putSettingIfAbsent(
    db,
    tokenKey(branchId, type),
    randomBytes(16).toString('hex'),
    ctx.clock.now().toISOString(),
  )
  return getSetting(db, tokenKey(branchId, type))
}

export async function rotateCallbackToken(
  ctx: Ctx,
  db: Kysely<Database>,
  branchId: string,
  type: string,
): Promise<string> {
  const token = randomBytes(16).toString('hex')
  await putSetting(db, tokenKey(branchId, type), token, ctx.clock.now().toISOString())
  return token
}

/** Finds which branch a path token belongs to (constant work per lookup is the store's index). */
export async function branchForToken(
  db: Kysely<Database>,
  type: string,
  token: string,
): Promise<string | undefined> {
  if (!/^[0-9a-f]{32}$/.test(token)) return undefined
  const key = await findSettingKeyByValue(db, `callback_token:%:${type}`, token)
  return key?.split(':')[1]
}

export function callbackPath(type: GatewayType, branchCode: string, token: string): string {
  if (type === 'stripe') return `/webhooks/stripe/${branchCode}`
  if (type === 'square') return `/webhooks/square/${branchCode}`
  return `/callbacks/${type}/${token}`
}

/**
 * The URL a gateway calls back for this branch: the stored public URL (`dsh config set
 * public-url`), or the local default for sandbox set-ups; a production push without one is exit 7.
 */
export async function callbackUrl(
  ctx: Ctx,
  db: Kysely<Database>,
  branch: BranchWithTenant,
  type: GatewayType,
  environment: string | undefined,
): Promise<string> {
  const base =
    (await getSetting(db, PUBLIC_URL_SETTING)) ??
    (environment === 'production' ? undefined : SANDBOX_PUBLIC_URL)
  if (!base) {
    throw configError(
      'public_url_missing',
      `no public URL is set, so ${type} cannot call ${branch.code} back`,
      'set it with `dsh config set public-url https://…` (or the daemon’s --public-url)',
    )
  }
  const token =
    type === 'stripe' || type === 'square'
      ? ''
      : ((await callbackToken(ctx, db, branch.id, type, true)) ?? '')
  return `${base.replace(/\/+$/, '')}${callbackPath(type, branch.code, token)}`
}
