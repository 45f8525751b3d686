import type { Kysely, Selectable } from 'kysely'
import type { CollectionAccountsTable, Database } from '../store/schema.js'

export type CollectionAccountRow = Selectable<CollectionAccountsTable>

export const findCollectionAccount = (db: Kysely<Database>, tenantId: string, currency: string) =>
  db
    .selectFrom('collection_accounts')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('currency', '=', currency)
    .executeTakeFirst()

export const listCollectionAccounts = (db: Kysely<Database>, tenantId: string) =>
  db
    .selectFrom('collection_accounts')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('currency')
    .execute()

export async function upsertCollectionAccount(
  db: Kysely<Database>,
  row: CollectionAccountRow,
  exists: boolean,
) {
  if (!exists) return db.insertInto('collection_accounts').values(row).execute()
  const { id, tenant_id: _t, currency: _c, created_at: _cr, ...changes } = row
  return db.updateTable('collection_accounts').set(changes).where('id', '=', id).execute()
}
