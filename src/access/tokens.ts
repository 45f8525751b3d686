import { createHash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { conflict, fieldError, notFound, validationError } from '../core/errors.js'
import { parseSlug } from '../core/validate.js'
import { isUniqueViolation } from '../store/errors.js'
import type { Database } from '../store/schema.js'
import { requireTenant } from '../tenants/tenants.js'
import {
  findLiveTokenByHash,
  findTokenByNameOrId,
  insertToken,
  listTokenRows,
  revokeTokenRow,
  type TokenWithTenant,
  touchToken,
} from './tokens-store.js'

export const ROLES = ['viewer', 'operator', 'admin'] as const
export type Role = (typeof ROLES)[number]

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const TOKEN = /^dsh_[A-Za-z0-9_-]{43}$/

/** SHA-256 of a token: what the store keeps (a token has 256 random bits: no salt needed). */
export const hashToken = (token: string): string =>
  createHash('sha256').update(token, 'utf8').digest('hex')

export interface CreatedToken {
  /** Shown once; only its hash is stored. */
  token: string
  name: string
  role: Role
  tenant: string | null
}

export interface TokenView {
  id: string
  name: string
  role: string
  tenant: string | null
  prefix: string
  createdAt: string
  createdBy: string
  lastUsedAt: string | null
  revokedAt: string | null
}

const view = (r: TokenWithTenant): TokenView => ({
  id: r.id,
  name: r.name,
  role: r.role,
  tenant: r.tenant_slug,
  prefix: `${r.token_prefix}…`,
  createdAt: r.created_at,
  createdBy: r.created_by,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
})

export function parseRole(role: string | undefined): Role {
  if (!role) throw fieldError('usage', 'missing_flags', ['role'], 'missing required field: role')
  if (!(ROLES as readonly string[]).includes(role))
    throw fieldError(
      'validation',
      'invalid_role',
      ['role'],
      `role "${role}" is not one of ${ROLES.join(', ')}`,
    )
  return role as Role
}

export async function createToken(
  ctx: Ctx,
  input: { name?: string | undefined; role?: string | undefined; tenant?: string | undefined },
): Promise<CreatedToken> {
  const missing = (['name', 'role'] as const).filter((k) => !input[k])
  if (missing.length)
    throw fieldError(
      'usage',
      'missing_flags',
      missing,
      `missing required ${missing.length === 1 ? 'field' : 'fields'}: ${missing.join(', ')}`,
    )
  const name = input.name!.trim()
  if (!NAME.test(name))
    throw fieldError(
      'validation',
      'invalid_token_name',
      ['name'],
      `name "${input.name}" must be 1 to 64 letters, digits, dots, dashes or underscores`,
    )
  if (name === 'daemon')
    throw validationError(
      'reserved_token_name',
      '"daemon" is the daemon’s own name in the audit log; choose another',
    )
  const role = parseRole(input.role)
  const slug = input.tenant === undefined ? undefined : parseSlug(input.tenant, 'tenant slug')
  const store = await ctx.store()
  const tenant = slug ? await requireTenant(store.db, slug) : undefined
  const token = `dsh_${randomBytes(32).toString('base64url')}`
  const id = ctx.ids.next('tok')
  const now = ctx.clock.now().toISOString()
  try {
    await store.write(async (trx) => {
      await insertToken(trx, {
        id,
        name,
        role,
        tenant_id: tenant?.id ?? null,
        token_hash: hashToken(token),
        token_prefix: token.slice(0, 8),
        created_at: now,
        created_by: ctx.actor,
        revoked_at: null,
        last_used_at: null,
      })
      // Never the token, nor any part of it.
      await audit(ctx, trx, {
        action: 'token.create',
        tenant: tenant?.slug ?? null,
        target: id,
        request: { name, role, tenant: tenant?.slug ?? null },
      })
    })
  } catch (err) {
    if (isUniqueViolation(err))
      throw conflict(
        'token_exists',
        `a live token named "${name}" already exists`,
        `revoke it first (\`dsh token revoke ${name}\`) or choose another name`,
      )
    throw err
  }
  return { token, name, role, tenant: tenant?.slug ?? null }
}

export async function listTokens(ctx: Ctx): Promise<TokenView[]> {
  const store = await ctx.store()
  return (await listTokenRows(store.db)).map(view)
}

export async function revokeToken(ctx: Ctx, nameOrId: string): Promise<TokenView> {
  const store = await ctx.store()
  const now = ctx.clock.now().toISOString()
  const revoked = await store.write(async (trx) => {
    const row = await findTokenByNameOrId(trx, nameOrId.trim())
    if (!row || row.revoked_at)
      throw notFound(
        'token_not_found',
        `no live token "${nameOrId}"`,
        'see `dsh token list` for names and ids',
      )
    await revokeTokenRow(trx, row.id, now)
    await audit(ctx, trx, {
      action: 'token.revoke',
      tenant: row.tenant_slug,
      target: row.id,
      request: { name: row.name, role: row.role },
    })
    return { ...row, revoked_at: now }
  })
  return view(revoked)
}

/** Who is calling the API: a live token's name, role and tenant (null: every tenant). */
export interface Principal {
  id: string
  name: string
  role: Role
  tenantId: string | null
  tenantSlug: string | null
}

/** Looks a bearer token up by its hash; undefined when it is malformed, unknown or revoked. */
export async function authenticate(
  db: Kysely<Database>,
  token: string | undefined,
): Promise<Principal | undefined> {
  if (!token || !TOKEN.test(token)) return undefined
  const row = await findLiveTokenByHash(db, hashToken(token))
  return row && principalOf(row)
}

/** Who a live token row acts as; undefined when its role is not one dsh knows. */
export function principalOf(row: {
  id: string
  name: string
  role: string
  tenant_id: string | null
  tenant_slug: string | null
}): Principal | undefined {
  if (!(ROLES as readonly string[]).includes(row.role)) return undefined
  return {
    id: row.id,
    name: row.name,
    role: row.role as Role,
    tenantId: row.tenant_id,
    tenantSlug: row.tenant_slug,
  }
}

/** Records a token's last use, at most once a minute per token per process. */
export function tokenToucher(db: Kysely<Database>, clock: () => Date) {
  const last = new Map<string, number>()
  return (p: Principal): void => {
    const now = clock()
    if ((last.get(p.id) ?? 0) > now.getTime() - 60_000) return
    last.set(p.id, now.getTime())
    touchToken(db, p.id, now.toISOString()).catch(() => last.delete(p.id))
  }
}
