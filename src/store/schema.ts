/** Row types as the drivers return them: money and counts may come back as number or string. */
export type Int8 = number | string | bigint

export interface SettingsTable {
  key: string
  value: string
  updated_at: string
}

export interface TenantsTable {
  id: string
  slug: string
  name: string
  currency: string
  created_at: string
  updated_at: string
}

export interface BranchesTable {
  id: string
  tenant_id: string
  code: string
  name: string
  currency: string
  timezone: string
  tax_rate_bp: number
  service_charge_bp: number
  tips_enabled: number
  methods: string
  status: string
  created_at: string
  updated_at: string
}

export interface GatewayConfigsTable {
  id: string
  tenant_id: string
  branch_id: string | null
  scope: string
  type: string
  enabled: number
  /** JSON object of the non-secret fields. */
  settings: string
  /** JSON object of field name → vault envelope (AES-256-GCM). */
  secrets: string
  fee_currency: string
  transaction_fee_bp: number
  transaction_fee_flat_minor: Int8
  conversion_fee_bp: number
  settlement_fee_minor: Int8
  created_at: string
  updated_at: string
}

export interface SettlementAccountsTable {
  id: string
  branch_id: string
  currency: string
  account_name: string
  account_number: string
  bank_name: string
  bank_code: string | null
  swift: string | null
  schedule: string
  at_time: string
  weekday: string | null
  month_day: string | null
  min_amount_minor: Int8
  holding_hours: number
  auto: number
  created_at: string
  updated_at: string
}

export interface AuditLogTable {
  seq: Int8
  at: string
  actor: string
  action: string
  tenant: string | null
  branch: string | null
  target: string | null
  request: string
  outcome: string
  prev_hash: string
  hash: string
}

export interface AuditHeadTable {
  id: number
  seq: Int8
  hash: string
}

export interface Database {
  settings: SettingsTable
  tenants: TenantsTable
  branches: BranchesTable
  gateway_configs: GatewayConfigsTable
  settlement_accounts: SettlementAccountsTable
  audit_log: AuditLogTable
  audit_head: AuditHeadTable
}
