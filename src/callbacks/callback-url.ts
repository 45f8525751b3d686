import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Kysely } from 'kysely'
import {
  getSetting,
  putSetting,
  putSettingIfAbsent,
  settingsWithPrefix,
} from '../admin/settings.js'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { configError, usageError } from '../core/errors.js'
import {
  CALLBACK_GATEWAYS,
  type CallbackGateway,
  GATEWAY_TYPES,
  type GatewayType,
} from '../core/gateways/types.js'
import { parseSlug } from '../core/validate.js'
import { branchGateways } from '../gateway-config/in-force.js'
import type { Database } from '../store/schema.js'
import { type BranchWithTenant, requireBranch } from '../tenants/branches.js'
import { seal, unseal } from '../vault/vault.js'

export const PUBLIC_URL_SETTING = 'public_url'
export const SANDBOX_PUBLIC_URL = 'http://127.0.0.1:8080'

const TOKEN_PREFIX = 'callback_token:'
const HASH_PREFIX = 'callback_token_hash:'
const tokenKey = (branchId: string, type: string) => `${TOKEN_PREFIX}${branchId}:${type}`
const hashKey = (branchId: string, type: string) => `${HASH_PREFIX}${branchId}:${type}`

/** The HMAC key of the daemon's token look-up: random, made on first use, sealed by the vault. */
export const CALLBACK_LOOKUP_KEY_SETTING = 'callback_lookup_key'

/**
 * Settings rows whose value is a vault envelope sealed with the context `settings:<key>`, besides
 * the audit key: what `dsh keys rotate` re-encrypts here. Tokens are bound to their branch and
 * gateway through that context (a token row copied onto another branch fails to open).
 */
export const SEALED_SETTING_PREFIXES = [CALLBACK_LOOKUP_KEY_SETTING, TOKEN_PREFIX] as const
export const sealedSettingContext = (key: string) => `settings:${key}`

const PLAIN_TOKEN = /^[0-9a-f]{32}$/

/**
 * The sealed settings rows `dsh keys rotate` re-encrypts here, with the context each is bound to.
 * Tokens still plain (a store from before they were sealed) are sealed on the way: rotation
 * leaves no token outside the vault.
 */
export async function sealedSettings(db: Kysely<Database>): Promise<SealedSetting[]> {
  const out: SealedSetting[] = []
  for (const prefix of SEALED_SETTING_PREFIXES)
    for (const row of await settingsWithPrefix(db, prefix))
      if (row.key === prefix || prefix.endsWith(':'))
        out.push({
          ...row,
          context: sealedSettingContext(row.key),
          plain: prefix === TOKEN_PREFIX && PLAIN_TOKEN.test(row.value),
        })
  return out
}

export interface SealedSetting {
  key: string
  value: string
  /** The vault context it is (to be) sealed with. */
  context: string
  /** A token stored plain by an older dsh: seal it rather than re-encrypt it. */
  plain: boolean
}
const lookupKeys = new WeakMap<Ctx, Buffer>()

/**
 * The look-up key, cached per process: rotation re-seals it but never changes it, so a running
 * daemon's hashes stay valid across `dsh keys rotate`.
 */
async function lookupKey(ctx: Ctx, db: Kysely<Database>): Promise<Buffer> {
  const cached = lookupKeys.get(ctx)
  if (cached) return cached
  const context = sealedSettingContext(CALLBACK_LOOKUP_KEY_SETTING)
  let sealed = await getSetting(db, CALLBACK_LOOKUP_KEY_SETTING)
  if (!sealed) {
    const fresh = seal(ctx, randomBytes(32).toString('base64'), context)
    await putSettingIfAbsent(db, CALLBACK_LOOKUP_KEY_SETTING, fresh, ctx.clock.now().toISOString())
    sealed = await getSetting(db, CALLBACK_LOOKUP_KEY_SETTING)
  }
  if (!sealed) throw new Error('the callback look-up key vanished')
  const key = Buffer.from(unseal(ctx, sealed, context), 'base64')
  lookupKeys.set(ctx, key)
  return key
}

/** HMAC-SHA256 of a token under the look-up key: all the store ever compares. */
const tokenHash = (key: Buffer, type: string, token: string) =>
  createHmac('sha256', key).update(`${type}:${token}`, 'utf8').digest('hex')

/** A fresh path token: 32 random hex digits. */
const newToken = () => randomBytes(16).toString('hex')

/** A token as stored under the setting `key`: sealed by the vault, bound to that key. */
const sealToken = (ctx: Ctx, key: string, token: string) =>
  seal(ctx, token, sealedSettingContext(key))

/** Opens a stored token; a plain one (stores from before tokens were sealed) is sealed in place. */
async function openToken(
  ctx: Ctx,
  db: Kysely<Database>,
  key: string,
  value: string,
): Promise<string> {
  if (!PLAIN_TOKEN.test(value)) return unseal(ctx, value, sealedSettingContext(key))
  await putSetting(db, key, sealToken(ctx, key, value), ctx.clock.now().toISOString())
  return value
}

/** Writes the token's hash row (idempotent: the same token always gives the same hash). */
async function writeHash(
  ctx: Ctx,
  db: Kysely<Database>,
  branchId: string,
  type: string,
  token: string,
): Promise<void> {
  const hash = tokenHash(await lookupKey(ctx, db), type, token)
  await putSetting(db, hashKey(branchId, type), hash, ctx.clock.now().toISOString())
}

/**
 * The secret path token of a branch's Daraja/KCB/bank callback URL (Daraja signs nothing, so the
 * path is the proof). Random hex: never contains a word Daraja forbids in URLs. Stored sealed by
 * the vault, bound to branch and gateway; opened here, on use.
 */
export async function callbackToken(
  ctx: Ctx,
  db: Kysely<Database>,
  branchId: string,
  type: string,
  create: boolean,
): Promise<string | undefined> {
  const key = tokenKey(branchId, type)
  const existing = await getSetting(db, key)
  if (existing) {
    const plainBefore = PLAIN_TOKEN.test(existing)
    const token = await openToken(ctx, db, key, existing)
    if (plainBefore) await writeHash(ctx, db, branchId, type, token)
    return token
  }
  if (!create) return undefined
  // Insert-if-absent, then read back: two processes racing agree on one token.
  await putSettingIfAbsent(db, key, sealToken(ctx, key, newToken()), ctx.clock.now().toISOString())
  const stored = await getSetting(db, key)
  if (!stored) return undefined
  const token = await openToken(ctx, db, key, stored)
  await writeHash(ctx, db, branchId, type, token)
  return token
}

export async function rotateCallbackToken(
  ctx: Ctx,
  db: Kysely<Database>,
  branchId: string,
  type: string,
): Promise<string> {
  const token = newToken()
  const key = tokenKey(branchId, type)
  await putSetting(db, key, sealToken(ctx, key, token), ctx.clock.now().toISOString())
  await writeHash(ctx, db, branchId, type, token)
  return token
}

/**
 * Which branch a path token belongs to. The store holds only sealed tokens and their HMACs: the
 * presented token is hashed with the look-up key and compared, in constant time, with every hash
 * of that gateway type (no early exit), so neither SQL nor timing ever sees the plain token.
 */
export async function branchForToken(
  ctx: Ctx,
  db: Kysely<Database>,
  type: string,
  token: string,
): Promise<string | undefined> {
  if (!PLAIN_TOKEN.test(token)) return undefined
  const found = await matchHash(ctx, db, type, token)
  if (found) return found
  // A miss: tokens written before hashes existed, or a writer that died between its two rows.
  if (!(await repairHashes(ctx, db))) return undefined
  return matchHash(ctx, db, type, token)
}

async function matchHash(
  ctx: Ctx,
  db: Kysely<Database>,
  type: string,
  token: string,
): Promise<string | undefined> {
  const want = Buffer.from(tokenHash(await lookupKey(ctx, db), type, token), 'hex')
  let match: string | undefined
  for (const row of await settingsWithPrefix(db, HASH_PREFIX)) {
    const [branchId, rowType] = row.key.slice(HASH_PREFIX.length).split(':')
    const have = Buffer.from(row.value, 'hex')
    const same = have.length === want.length && timingSafeEqual(have, want)
    if (same && rowType === type && match === undefined) match = branchId
  }
  return match
}

/** Seals plain tokens and writes missing hashes; true when anything changed. */
async function repairHashes(ctx: Ctx, db: Kysely<Database>): Promise<boolean> {
  const hashed = new Set((await settingsWithPrefix(db, HASH_PREFIX)).map((r) => r.key))
  let changed = false
  for (const row of await settingsWithPrefix(db, TOKEN_PREFIX)) {
    const [branchId = '', type = ''] = row.key.slice(TOKEN_PREFIX.length).split(':')
    if (hashed.has(hashKey(branchId, type)) && !PLAIN_TOKEN.test(row.value)) continue
    const token = await openToken(ctx, db, row.key, row.value)
    await writeHash(ctx, db, branchId, type, token)
    changed = true
  }
  return changed
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
