import type { Generated } from 'kysely'
import type { StoredAuditRow } from '../core/audit/chain.js'

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
  /** IANA zone (migration 0008); branches have their own, this is the default for lists. */
  timezone: Generated<string>
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
  /** The largest single payment in the branch currency; null: the default (migration 0006). */
  max_amount_minor: Int8 | null
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

/** The bank account columns of settlement and collection accounts. */
export interface BankAccountColumns {
  account_name: string
  account_number: string
  bank_name: string
  bank_code: string | null
  swift: string | null
}

export interface SettlementAccountsTable extends BankAccountColumns {
  id: string
  branch_id: string
  currency: string
  schedule: string
  at_time: string
  weekday: string | null
  month_day: string | null
  min_amount_minor: Int8
  holding_hours: number
  auto: number
  /** file | http | manual (migration 0005). */
  transfer: string
  bank_api_url: string | null
  /** JSON object of field name → vault envelope (apiKey, webhookSecret). */
  bank_secrets: string
  created_at: string
  updated_at: string
}

/** The hash-chained audit row (its shape is the chain's: src/core/audit/chain.ts). */
export type AuditLogTable = Omit<StoredAuditRow, 'seq'> & { seq: Int8 }

export interface AuditHeadTable {
  id: number
  seq: Int8
  hash: string
}

export interface PaymentsTable {
  id: string
  tenant_id: string
  branch_id: string
  order_id: string | null
  amount_minor: Int8
  currency: string
  refunded_minor: Int8
  method: string
  customer_type: string
  phone: string | null
  gateway: string | null
  status: string
  failure_code: string | null
  failure_message: string | null
  routing: string
  idempotency_key: string | null
  receipt_number: string | null
  gateway_ref: string | null
  fee_minor: Int8 | null
  fee_rate_bp: number | null
  fee_flat_minor: Int8 | null
  fee_currency: string | null
  /** The flat fee as configured, when in another currency than the payment (then converted). */
  fee_flat_source_minor: Generated<Int8 | null>
  fee_flat_source_currency: Generated<string | null>
  /** The exact rate (source → payment currency) it was converted at; null: no rate was set. */
  fee_fx_rate: Generated<string | null>
  fee_fx_as_of: Generated<string | null>
  settlement_status: string
  settlement_batch_id: string | null
  next_check_at: string | null
  check_count: number
  created_at: string
  updated_at: string
  completed_at: string | null
}

export interface PaymentAttemptsTable {
  id: string
  payment_id: string
  seq: number
  gateway: string
  gateway_config_id: string | null
  status: string
  failure_kind: string | null
  code: string | null
  message: string | null
  gateway_ref: string | null
  secondary_ref: string | null
  receipt_number: string | null
  request: string | null
  response: string | null
  latency_ms: number | null
  created_at: string
  updated_at: string
}

export interface PaymentEventsTable {
  id: string
  payment_id: string
  at: string
  from_status: string | null
  to_status: string
  actor: string
  reason: string
}

export interface IdempotencyKeysTable {
  tenant_id: string
  key: string
  fingerprint: string
  payment_id: string
  created_at: string
}

export interface BreakersTable {
  branch_id: string
  gateway: string
  state: string
  consecutive_faults: number
  changed_at_ms: Int8
  updated_at: string
}

export interface RoutingRulesTable {
  branch_id: string
  rules: string
  updated_at: string
}

export interface Database {
  payments: PaymentsTable
  payment_attempts: PaymentAttemptsTable
  payment_events: PaymentEventsTable
  idempotency_keys: IdempotencyKeysTable
  breakers: BreakersTable
  routing_rules: RoutingRulesTable
  settings: SettingsTable
  tenants: TenantsTable
  branches: BranchesTable
  gateway_configs: GatewayConfigsTable
  settlement_accounts: SettlementAccountsTable
  audit_log: AuditLogTable
  audit_head: AuditHeadTable
  api_tokens: ApiTokensTable
  callback_inbox: CallbackInboxTable
  events: EventsTable
  event_head: EventHeadTable
  job_ticks: JobTicksTable
  statements: StatementsTable
  statement_lines: StatementLinesTable
  recon_runs: ReconRunsTable
  recon_matches: ReconMatchesTable
  recon_discrepancies: ReconDiscrepanciesTable
  recon_decisions: ReconDecisionsTable
  settlement_batches: SettlementBatchesTable
  settlement_batch_items: SettlementBatchItemsTable
  settlement_runs: SettlementRunsTable
  collection_accounts: CollectionAccountsTable
  fx_rates: FxRatesTable
  alerts: AlertsTable
  dashboard_sessions: DashboardSessionsTable
  payment_counts: PaymentCountsTable
  payment_hour_counts: PaymentHourCountsTable
  inbox_counts: InboxCountsTable
  payment_counts_bulk: PaymentCountsBulkTable
}

// Counters kept by triggers (migration 2026_11_29_0012_counters). A payment with no gateway
// counts under gateway ''. Read them summed per key: PostgreSQL keeps a key's delta rows until a
// later move folds them.

export interface PaymentCountsTable {
  tenant_id: string
  branch_id: string
  gateway: string
  status: string
  settlement_status: string
  currency: string
  count: Int8
  amount_minor: Int8
  /** 1: a delta row a move appended (PostgreSQL, until folded); 0: the key's folded row. */
  delta: Generated<number>
}

/**
 * SQLite (migration 2026_11_29_0015_settlement_counters): a row only inside a settlement run's
 * write transaction, around its bulk unsettled → batched UPDATE, while the row trigger stands
 * aside for that move and the run adjusts payment_counts itself in one grouped upsert. Empty at
 * every commit. Unused on PostgreSQL.
 */
export interface PaymentCountsBulkTable {
  id: number
}

export interface PaymentHourCountsTable {
  tenant_id: string
  branch_id: string
  /** UTC hour of creation, `YYYY-MM-DDTHH`. */
  hour: string
  status: string
  method: string
  gateway: string
  currency: string
  count: Int8
  amount_minor: Int8
  /** Succeeded payments with a completion time, and Σ of their creation → completion ms. */
  completed_count: Int8
  processing_ms: Int8
  delta: Generated<number>
}

export interface InboxCountsTable {
  gateway: string
  status: string
  count: Int8
  duplicates: Int8
  delta: Generated<number>
}

// The daemon (migration 2026_11_26_0004_daemon).

export interface ApiTokensTable {
  id: string
  name: string
  role: string
  tenant_id: string | null
  /** SHA-256 (hex) of the token; the token itself is never stored. */
  token_hash: string
  /** The first characters, to recognise a token in lists. */
  token_prefix: string
  created_at: string
  created_by: string
  revoked_at: string | null
  last_used_at: string | null
}

export interface CallbackInboxTable {
  id: string
  dedupe_key: string
  gateway: string
  branch_id: string | null
  tenant_id: string | null
  status: string
  received_at: string
  /** The raw body with secrets redacted and phone numbers masked. */
  body: string
  headers: string
  remote_addr: string | null
  gateway_ref: string | null
  duplicates: number
  last_duplicate_at: string | null
  attempts: number
  next_attempt_at: string | null
  lease_until: string | null
  last_error: string | null
  note: string | null
  payment_id: string | null
  processed_at: string | null
  updated_at: string
}

export interface EventsTable {
  seq: Int8
  at: string
  type: string
  tenant_id: string
  branch_id: string
  payment_id: string | null
  data: string
}

export interface EventHeadTable {
  id: number
  seq: Int8
}

export interface FxRatesTable {
  from_currency: string
  to_currency: string
  as_of: string
  /** The exact decimal rate as given (see src/core/money/fx.ts). */
  rate: string
  created_at: string
  created_by: string
}

export interface AlertsTable {
  id: string
  code: string
  subject: string
  branch_id: string | null
  severity: string
  message: string
  value: string | null
  threshold: string | null
  opened_at: string
  closed_at: string | null
}

export interface JobTicksTable {
  job: string
  tick: string
  owner: string
  started_at: string
  finished_at: string | null
  outcome: string | null
}

// Statements and reconciliation (migration 2026_11_29_0007_reconciliation).

export interface StatementsTable {
  id: string
  branch_id: string
  profile: string
  kind: string
  account: string
  file: string
  sha256: string
  currency: string
  period_from: string
  period_to: string
  lines: number
  imported: number
  created_at: string
  created_by: string
}

export interface StatementLinesTable {
  id: string
  statement_id: string
  branch_id: string
  kind: string
  account: string
  fingerprint: string
  line_no: number
  occurrence: number
  booked_at: string
  value_date: string | null
  amount_minor: Int8
  currency: string
  transaction_id: string | null
  reference: string
  description: string
  counterparty: string
  balance_minor: Int8 | null
  completed: number
}

export interface ReconRunsTable {
  id: string
  branch_id: string
  period_from: string
  period_to: string
  /** JSON of the run's summary. */
  summary: string
  /** The run's JSON document, as `reconcile run --json` printed it. */
  report: string
  created_at: string
  created_by: string
}

export interface ReconMatchesTable {
  id: string
  run_id: string | null
  branch_id: string
  statement_line_id: string
  payment_id: string | null
  batch_id: string | null
  pass: string
  rule: string
  created_at: string
  unmatched_at: string | null
  unmatched_reason: string | null
}

export interface ReconDiscrepanciesTable {
  id: string
  run_id: string
  category: string
  severity: string
  pass: string
  rule: string
  statement_line_id: string | null
  payment_id: string | null
  batch_id: string | null
  expected_minor: Int8
  actual_minor: Int8
  difference_minor: Int8
  currency: string
  suggestion: string | null
}

export interface ReconDecisionsTable {
  id: string
  branch_id: string
  statement_line_id: string
  target_id: string | null
  decision: string
  reason: string
  created_at: string
  created_by: string
}

// Settlement (migration 2026_11_26_0005_settlement).

export interface SettlementBatchesTable {
  id: string
  /** `transfer` (paid from the collection account) or `cash_deposit` (a cash-up; migration 0016). */
  kind: string
  /** SETTLEMENT-… for a transfer, CASH-… (the deposit slip's reference) for a cash-up. */
  reference: string
  tenant_id: string
  branch_id: string
  account_id: string
  gateway: string
  currency: string
  period_start: string | null
  period_end: string
  status: string
  payment_count: number
  gross_minor: Int8
  transaction_fees_minor: Int8
  conversion_fees_minor: Int8
  settlement_fee_minor: Int8
  fees_minor: Int8
  net_minor: Int8
  transfer_adapter: string | null
  transfer_id: string | null
  /** JSON array of file paths written by the `file` adapter. */
  transfer_files: string | null
  sent_at: string | null
  bank_ref: string | null
  /** The amount the bank's confirmation reported, when it differs from net it stays processing. */
  bank_amount_minor: Int8 | null
  failure_reason: string | null
  retry_of: string | null
  /** host:pid of the process sending the transfer, and its lease. */
  send_owner: string | null
  send_until: string | null
  created_at: string
  updated_at: string
  completed_at: string | null
}

export interface SettlementBatchItemsTable {
  batch_id: string
  payment_id: string
  amount_minor: Int8
  fee_minor: Int8
  conversion_fee_minor: Int8
  released_at: string | null
}

export interface SettlementRunsTable {
  account_id: string
  period_end: string
  outcome: string
  created_at: string
}

export interface CollectionAccountsTable extends BankAccountColumns {
  id: string
  tenant_id: string
  currency: string
  created_at: string
  updated_at: string
}

// The dashboard (migration 2026_11_29_0010_dashboard_sessions).

export interface DashboardSessionsTable {
  id: string
  /** SHA-256 (hex) of the cookie's value; the value itself is never stored. */
  session_hash: string
  token_id: string
  created_at: string
  expires_at: string
  ended_at: string | null
}
