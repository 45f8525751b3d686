import { createHash, randomBytes } from 'node:crypto'
import { authenticate, type Principal, principalOf } from '../access/tokens.js'
import type { Ctx } from '../context.js'
import {
  deleteExpiredSessions,
  endSessionRow,
  findLiveSession,
  insertSession,
} from './sessions-store.js'

/** A dashboard session lasts 8 hours: a working day on one screen, then sign in again. */
export const SESSION_MS = 8 * 3_600_000
export const SESSION_COOKIE = 'dsh_session'

const VALUE = /^dshs_[A-Za-z0-9_-]{43}$/

const hash = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex')

export interface StartedSession {
  /** The cookie's value: shown to the browser once; only its hash is stored. */
  value: string
  expiresAt: Date
  principal: Principal
}

/**
 * Exchanges an API token (any role: viewer or higher) for a session. Undefined when the token is
 * malformed, unknown or revoked.
 */
export async function startSession(
  ctx: Ctx,
  token: string | undefined,
): Promise<StartedSession | undefined> {
  const store = await ctx.store()
  const principal = await authenticate(store.db, token)
  if (!principal) return undefined
  const now = ctx.clock.now()
  const value = `dshs_${randomBytes(32).toString('base64url')}`
  const expiresAt = new Date(now.getTime() + SESSION_MS)
  await store.write(async (trx) => {
    await deleteExpiredSessions(trx, now.toISOString())
    await insertSession(trx, {
      id: ctx.ids.next('ses'),
      session_hash: hash(value),
      token_id: principal.id,
      created_at: now.toISOString(),
      expires_at: expiresAt.toISOString(),
      ended_at: null,
    })
  })
  return { value, expiresAt, principal }
}

/** Who a session cookie acts as; undefined once it has ended, expired or its token is revoked. */
export async function sessionPrincipal(
  ctx: Ctx,
  value: string | undefined,
): Promise<Principal | undefined> {
  if (!value || !VALUE.test(value)) return undefined
  const store = await ctx.store()
  const row = await findLiveSession(store.db, hash(value), ctx.clock.now().toISOString())
  return row && principalOf({ ...row, id: row.token_id })
}

/** `POST /dashboard/logout`: the session ends now (a no-op for an unknown one). */
export async function endSession(ctx: Ctx, value: string | undefined): Promise<void> {
  if (!value || !VALUE.test(value)) return
  const store = await ctx.store()
  await endSessionRow(store.db, hash(value), ctx.clock.now().toISOString())
}
