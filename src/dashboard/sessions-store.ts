import type { Insertable, Kysely } from 'kysely'
import { updateWhere } from '../store/rows.js'
import type { DashboardSessionsTable, Database } from '../store/schema.js'

export const insertSession = (db: Kysely<Database>, row: Insertable<DashboardSessionsTable>) =>
  db.insertInto('dashboard_sessions').values(row).execute()

/** A live session (not ended, not expired, its token not revoked) with its token and tenant. */
export const findLiveSession = (db: Kysely<Database>, hash: string, now: string) =>
  db
    .selectFrom('dashboard_sessions')
    .innerJoin('api_tokens', 'api_tokens.id', 'dashboard_sessions.token_id')
    .leftJoin('tenants', 'tenants.id', 'api_tokens.tenant_id')
    .select([
      'dashboard_sessions.id as session_id',
      'dashboard_sessions.expires_at',
      'api_tokens.id as token_id',
      'api_tokens.name',
      'api_tokens.role',
      'api_tokens.tenant_id',
      'tenants.slug as tenant_slug',
    ])
    .where('dashboard_sessions.session_hash', '=', hash)
    .where('dashboard_sessions.ended_at', 'is', null)
    .where('dashboard_sessions.expires_at', '>', now)
    .where('api_tokens.revoked_at', 'is', null)
    .executeTakeFirst()

export const endSessionRow = (db: Kysely<Database>, hash: string, at: string) =>
  updateWhere(
    db,
    'dashboard_sessions',
    { ended_at: at },
    { session_hash: hash, ended_at: null },
  ).execute()

/** Sessions past their end are of no use: removed when a new one starts. */
export const deleteExpiredSessions = (db: Kysely<Database>, now: string) =>
  db.deleteFrom('dashboard_sessions').where('expires_at', '<=', now).execute()
