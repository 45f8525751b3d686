import type { Kysely, Selectable } from 'kysely'
import type { Database, SettlementAccountsTable } from '../store/schema.js'

export type SettlementAccountRow = Selectable<SettlementAccountsTable>

export const findSettlementAccount = (db: Kysely<Database>, branchId: string, currency: string) =>
  db
    .selectFrom('settlement_accounts')
    .selectAll()
    .where('branch_id', '=', branchId)
    .where('currency', '=', currency)
    .executeTakeFirst()

export const listSettlementAccounts = (db: Kysely<Database>, branchId: string) =>
  db
    .selectFrom('settlement_accounts')
    .selectAll()
    .where('branch_id', '=', branchId)
    .orderBy('currency')
    .execute()

export async function upsertSettlementAccount(
  db: Kysely<Database>,
  row: SettlementAccountRow,
  exists: boolean,
) {
  if (!exists) return db.insertInto('settlement_accounts').values(row).execute()
  const { id, branch_id: _b, currency: _c, created_at: _cr, ...changes } = row
  return db.updateTable('settlement_accounts').set(changes).where('id', '=', id).execute()
}

export const listAccountSecrets = (db: Kysely<Database>) =>
  db.selectFrom('settlement_accounts').select(['id', 'bank_secrets']).execute()

export const setAccountSecrets = (db: Kysely<Database>, id: string, secrets: string) =>
  db
    .updateTable('settlement_accounts')
    .set({ bank_secrets: secrets })
    .where('id', '=', id)
    .execute()
