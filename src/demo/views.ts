import type { Ctx } from '../context.js'
import type { RunReport } from '../reconciliation/view.js'
import { evaluateHealth } from '../reports/health.js'
import { branchesReport } from '../reports/report.js'
import { listSettlements } from '../settlement/lifecycle.js'

/** Plain text columns, left-aligned, for the closing views (no colours: they may be piped). */
function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd()
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

const pct = (bp: number | null) =>
  bp === null ? '–' : `${Math.floor(bp / 100)}.${String(bp % 100).padStart(2, '0')}%`

/**
 * The closing views, through the services `dsh report`, `dsh settlements list`,
 * `dsh reconcile run` and `dsh health` use: the day per branch (converted to the tenant's
 * currency), the settlement batches, what reconciliation found, and the health checks and alerts.
 */
export async function finalViews(ctx: Ctx, runs: readonly RunReport[]): Promise<string> {
  const rows = await branchesReport(ctx, {})
  const batches = await listSettlements(ctx, { limit: '100000' })
  const { opened: _o, closed: _c, ...health } = await evaluateHealth(ctx)
  const out: string[] = []
  out.push(
    'Report (dsh report)',
    table(
      [
        'Branch',
        'Payments',
        'Succeeded',
        'Failed',
        'Cancelled',
        'Open',
        'Success',
        'Takings',
        'In KES',
      ],
      rows.map((r) => [
        r.branch,
        String(r.count),
        String(r.succeededCount),
        String(r.failedCount),
        String(r.cancelledCount),
        String(r.openCount),
        pct(r.successRateBp),
        r.totals.map((t) => `${t.amount} ${t.currency}`).join(', '),
        r.converted ? `${r.converted.amount} ${r.converted.currency}` : '–',
      ]),
    ),
  )
  out.push(
    '',
    'Settlement batches (dsh settlements list)',
    table(
      ['Branch', 'Reference', 'Gateway', 'Payments', 'Net', 'Transfer', 'Status'],
      batches.map((b) => [
        b.branch,
        b.reference,
        b.gateway,
        String(b.paymentCount),
        `${b.net} ${b.currency}`,
        b.transfer?.adapter ?? '',
        b.status,
      ]),
    ),
  )
  out.push(
    '',
    'Reconciliation (dsh reconcile run)',
    table(
      ['Branch', 'Lines', 'Matched', 'Auto-matched', 'Discrepancies'],
      runs.map((r) => [
        r.branch,
        String(r.summary.lines),
        String(r.summary.matched),
        pct(r.summary.autoMatchRateBp),
        Object.entries(r.summary.byCategory)
          .filter(([, n]) => n > 0)
          .map(([c, n]) => `${c} ${n}`)
          .join(', ') || 'none',
      ]),
    ),
  )
  out.push(
    '',
    `Health (dsh health): ${health.status}, ${health.alerts.length} alert(s)`,
    table(
      ['Check', 'Branch', 'OK', 'Value', 'Threshold'],
      health.checks.map((c) => [
        c.name,
        c.branch ?? '',
        c.ok ? 'ok' : 'ALERT',
        c.value === null ? '–' : String(c.value),
        c.threshold === null ? '' : String(c.threshold),
      ]),
    ),
  )
  if (health.alerts.length > 0)
    out.push(
      '',
      table(
        ['Severity', 'Code', 'Branch', 'Message'],
        health.alerts.map((a) => [a.severity, a.code, a.branch ?? '', a.message]),
      ),
    )
  return out.join('\n')
}
