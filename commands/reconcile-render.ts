import type { App } from '../src/app.js'
import { columns, csvTable } from '../src/core/csv.js'
import type { RunReport } from '../src/reconciliation/view.js'

const pct = (bp: number) => `${Math.floor(bp / 100)}.${String(bp % 100).padStart(2, '0')}%`

const REPORT_COLUMNS = columns(
  ['id', 'text'],
  ['category', 'text'],
  ['severity', 'text'],
  ['pass', 'text'],
  ['rule', 'text'],
  ['line_id', 'text'],
  ['file', 'text'],
  ['line', 'number'],
  ['reference', 'text'],
  ['booked_at', 'text'],
  ['payment_id', 'text'],
  ['receipt_number', 'text'],
  ['batch_id', 'text'],
  ['expected', 'number'],
  ['actual', 'number'],
  ['difference', 'number'],
  ['currency', 'text'],
  ['suggestion', 'text'],
)

/** One row per discrepancy, through the one CSV writer (no line ending after the last row). */
export function reportCsv(r: RunReport): string {
  const rows = r.discrepancies.map((d) => [
    d.id,
    d.category,
    d.severity,
    d.pass,
    d.rule,
    d.statementLine?.id,
    d.statementLine?.file,
    d.statementLine?.line,
    d.statementLine?.reference,
    d.statementLine?.bookedAt,
    d.payment?.id,
    d.payment?.receiptNumber,
    d.batch?.id,
    d.expected,
    d.actual,
    d.difference,
    d.currency,
    d.suggestion,
  ])
  return csvTable(REPORT_COLUMNS, rows).slice(0, -1)
}

/** A run's report for people (table) or spreadsheets (csv, one row per discrepancy). */
export function renderReport(app: App, r: RunReport, format: 'table' | 'csv' | string): string {
  if (format === 'csv') return reportCsv(r)
  const s = r.summary
  const counts = Object.entries(s.byCategory)
    .filter(([, n]) => n > 0)
    .map(([c, n]) => `${c} ${n}`)
    .join(', ')
  return [
    `run ${r.runId}: branch ${r.branch}, ${r.from} to ${r.to}`,
    `${s.lines} statement line(s), ${s.matched} matched, auto-matched ${pct(s.autoMatchRateBp)}; ${s.discrepancies} discrepanc${s.discrepancies === 1 ? 'y' : 'ies'}${counts ? ` (${counts})` : ''}`,
    ...(r.discrepancies.length === 0
      ? []
      : [
          app.out.table(
            ['Category', 'Severity', 'Line', 'Payment/Batch', 'Expected', 'Actual', 'Suggestion'],
            r.discrepancies.map((d) => [
              d.category,
              d.severity,
              d.statementLine ? `${d.statementLine.id} ${d.statementLine.reference}` : '',
              d.payment?.id ?? d.batch?.id ?? '',
              `${d.currency} ${d.expected}`,
              `${d.currency} ${d.actual}`,
              d.suggestion ?? '',
            ]),
          ),
        ]),
  ].join('\n')
}
