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

export interface Database {
  settings: SettingsTable
  tenants: TenantsTable
  branches: BranchesTable
}
