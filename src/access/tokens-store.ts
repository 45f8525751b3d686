import type { Insertable, Kysely, Selectable } from 'kysely'
import { updateWhere } from '../store/rows.js'
import type { ApiTokensTable, Database } from '../store/schema.js'

export type TokenRow = Selectable<ApiTokensTable>
export type TokenWithTenant = TokenRow & { tenant_slug: string | null }

const withTenant = (db: Kysely<Database>) =>
  db
    .selectFrom('api_tokens')
    .leftJoin('tenants', 'tenants.id', 'api_tokens.tenant_id')
    .selectAll('api_tokens')
    .select('tenants.slug as tenant_slug')

export const insertToken = (db: Kysely<Database>, row: Insertable<ApiTokensTable>) =>
  db.insertInto('api_tokens').values(row).execute()

/** A live (not revoked) token by the SHA-256 of its value. */
export const findLiveTokenByHash = (db: Kysely<Database>, hash: string) =>
  withTenant(db)
    .where('api_tokens.token_hash', '=', hash)
    .where('api_tokens.revoked_at', 'is', null)
    .executeTakeFirst()

/** A live token by name, or any token by id. */
export const findTokenByNameOrId = (db: Kysely<Database>, nameOrId: string) =>
  withTenant(db)
    .where((eb) =>
      eb.or([
        eb.and([eb('api_tokens.name', '=', nameOrId), eb('api_tokens.revoked_at', 'is', null)]),
        eb('api_tokens.id', '=', nameOrId),
      ]),
    )
    .executeTakeFirst()

export const listTokenRows = (db: Kysely<Database>) =>
  withTenant(db).orderBy('api_tokens.created_at').orderBy('api_tokens.id').execute()

export const revokeTokenRow = (db: Kysely<Database>, id: string, at: string) =>
  updateWhere(db, 'api_tokens', { revoked_at: at }, { id, revoked_at: null }).executeTakeFirst()

export const touchToken = (db: Kysely<Database>, id: string, at: string) =>
  db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', id).execute()
