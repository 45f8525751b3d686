import type { Kysely, Selectable } from 'kysely'
import { rowsWhere } from '../store/rows.js'
import type { Database, GatewayConfigsTable } from '../store/schema.js'

export type GatewayConfigRow = Selectable<GatewayConfigsTable>

export const tenantScope = (tenantId: string) => `tenant:${tenantId}`
export const branchScope = (branchId: string) => `branch:${branchId}`

export const findGatewayConfig = (db: Kysely<Database>, scope: string, type: string) =>
  rowsWhere(db, 'gateway_configs', { scope, type }).executeTakeFirst()

export const listGatewayConfigsOfTenant = (db: Kysely<Database>, tenantId: string) =>
  rowsWhere(db, 'gateway_configs', { tenant_id: tenantId }).orderBy('type').execute()

export const insertGatewayConfig = (db: Kysely<Database>, row: GatewayConfigRow) =>
  db.insertInto('gateway_configs').values(row).execute()

export const replaceGatewayConfig = (db: Kysely<Database>, row: GatewayConfigRow) =>
  db
    .updateTable('gateway_configs')
    .set({
      enabled: row.enabled,
      settings: row.settings,
      secrets: row.secrets,
      fee_currency: row.fee_currency,
      transaction_fee_bp: row.transaction_fee_bp,
      transaction_fee_flat_minor: row.transaction_fee_flat_minor,
      conversion_fee_bp: row.conversion_fee_bp,
      settlement_fee_minor: row.settlement_fee_minor,
      updated_at: row.updated_at,
    })
    .where('id', '=', row.id)
    .execute()

export const setGatewayEnabled = (
  db: Kysely<Database>,
  id: string,
  enabled: boolean,
  now: string,
) =>
  db
    .updateTable('gateway_configs')
    .set({ enabled: enabled ? 1 : 0, updated_at: now })
    .where('id', '=', id)
    .execute()

export const deleteGatewayConfig = (db: Kysely<Database>, id: string) =>
  db.deleteFrom('gateway_configs').where('id', '=', id).execute()

export const setGatewaySecrets = (db: Kysely<Database>, id: string, secrets: string) =>
  db.updateTable('gateway_configs').set({ secrets }).where('id', '=', id).execute()

/** Every configuration's sealed secrets (key rotation re-encrypts them all). */
export const listGatewaySecrets = (db: Kysely<Database>) =>
  db.selectFrom('gateway_configs').select(['id', 'secrets']).execute()
