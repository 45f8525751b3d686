import type { Migration } from 'kysely'
import * as foundation from './2026_11_26_0001_foundation.js'
import * as gatewaysAudit from './2026_11_26_0002_gateways_audit.js'
import * as payments from './2026_11_26_0003_payments.js'
import * as daemon from './2026_11_26_0004_daemon.js'
import * as settlement from './2026_11_26_0005_settlement.js'
import * as security from './2026_11_29_0006_security.js'
import * as reconciliation from './2026_11_29_0007_reconciliation.js'
import * as tenantTimezone from './2026_11_29_0008_tenant_timezone.js'
import * as reports from './2026_11_29_0009_reports.js'
import * as dashboardSessions from './2026_11_29_0010_dashboard_sessions.js'
import * as hotPathIndexes from './2026_11_29_0011_hot_path_indexes.js'
import * as counters from './2026_11_29_0012_counters.js'
import * as retention from './2026_11_29_0013_retention.js'
import * as settlementSpeed from './2026_11_29_0014_settlement_speed.js'
import * as settlementCounters from './2026_11_29_0015_settlement_counters.js'
import * as cashUps from './2026_12_08_0016_cash_ups.js'
import * as settlementAuditIndexes from './2026_12_08_0017_settlement_audit_indexes.js'
import * as feeFx from './2026_12_08_0018_fee_fx.js'

/**
 * Every migration, in order. A static list (not a folder scan) so the same code runs from the
 * TypeScript sources under tsx/vitest and from the compiled dist/.
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '2026_11_26_0001_foundation': foundation,
  '2026_11_26_0002_gateways_audit': gatewaysAudit,
  '2026_11_26_0003_payments': payments,
  '2026_11_26_0004_daemon': daemon,
  '2026_11_26_0005_settlement': settlement,
  '2026_11_29_0006_security': security,
  '2026_11_29_0007_reconciliation': reconciliation,
  '2026_11_29_0008_tenant_timezone': tenantTimezone,
  '2026_11_29_0009_reports': reports,
  '2026_11_29_0010_dashboard_sessions': dashboardSessions,
  '2026_11_29_0011_hot_path_indexes': hotPathIndexes,
  '2026_11_29_0012_counters': counters,
  '2026_11_29_0013_retention': retention,
  '2026_11_29_0014_settlement_speed': settlementSpeed,
  '2026_11_29_0015_settlement_counters': settlementCounters,
  '2026_12_08_0016_cash_ups': cashUps,
  '2026_12_08_0017_settlement_audit_indexes': settlementAuditIndexes,
  '2026_12_08_0018_fee_fx': feeFx,
}
