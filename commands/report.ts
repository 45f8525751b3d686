import { Command } from 'commander'
import { columns, csvTable } from '../src/core/csv.js'
import { formatLocal } from '../src/core/time.js'
import type { BranchReport, BranchRow, Total } from '../src/reports/report.js'
import type { CommandContext } from './context.js'

interface ReportOpts {
  branch?: string
  date?: string
  from?: string
  to?: string
  csv?: boolean
}

const money = (t: { amount: string; currency: string }) => {
  const [whole = '0', frac] = t.amount.split('.')
  return `${t.currency} ${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${frac ? `.${frac}` : ''}`
}

const rate = (r: { successRate: string | null }) =>
  r.successRate === null ? '–' : `${r.successRate}%`

/** A bar per hour, scaled to the busiest hour, so a manager sees the lunch peak at a glance. */
function chart(hourly: NonNullable<BranchReport['hourly']>): string {
  const max = Math.max(1, ...hourly.map((h) => h.count))
  return hourly
    .map((h) => `  ${h.hour} ${'█'.repeat(Math.round((h.count / max) * 40)).padEnd(40)} ${h.count}`)
    .join('\n')
}

const totalsTable = (
  out: { table(h: string[], r: (string | number)[][]): string },
  label: string,
  rows: (Total & { method?: string; gateway?: string })[],
  key?: 'method' | 'gateway',
) =>
  rows.length === 0
    ? `${label}: none`
    : `${label}\n${out.table(
        [...(key ? [key[0]!.toUpperCase() + key.slice(1)] : []), 'Count', 'Amount', 'Average'],
        rows.map((r) => [
          ...(key ? [String(r[key] ?? '')] : []),
          r.count,
          money(r),
          money({ amount: r.average, currency: r.currency }),
        ]),
      )}`

function renderBranch(out: Parameters<typeof totalsTable>[0], r: BranchReport): string {
  return [
    `${r.branch} (${r.tenant}), ${r.from === r.to ? r.from : `${r.from} to ${r.to}`} (${r.timezone})`,
    `payments ${r.count}: ${r.succeededCount} succeeded, ${r.failedCount} failed, ${r.cancelledCount} cancelled, ${r.openCount} open; success rate ${rate(r)}`,
    r.averageProcessingSeconds === null
      ? ''
      : `average processing time ${r.averageProcessingSeconds} s`,
    totalsTable(out, 'takings (succeeded)', r.totals),
    r.converted
      ? `in ${r.converted.currency}: ${money(r.converted)} (rates ${r.converted.rate}, as of ${r.converted.asOf})`
      : (r.conversionNote ?? ''),
    totalsTable(out, 'by method', r.byMethod, 'method'),
    totalsTable(out, 'by gateway', r.byGateway, 'gateway'),
    r.settlement.pending.length
      ? `pending settlement: ${r.settlement.pending.map((p) => `${money(p)} in ${p.count} payments`).join('; ')}`
      : 'pending settlement: none',
    r.settlement.pendingDeposit.length
      ? `pending deposit (cash to bank): ${r.settlement.pendingDeposit.map((p) => `${money(p)} in ${p.count} payments`).join('; ')}`
      : 'pending deposit: none',
    ...r.settlement.awaitingDeposit.map(
      (c) =>
        `awaiting deposit: ${money({ amount: c.expected ?? '0', currency: c.currency })} with reference ${c.depositReference} (period to ${formatLocal(c.periodEnd, r.timezone)})`,
    ),
    r.settlement.lastBatch
      ? `last settlement: ${r.settlement.lastBatch.reference} ${r.settlement.lastBatch.status}, net ${money({ amount: r.settlement.lastBatch.net, currency: r.settlement.lastBatch.currency })}`
      : 'last settlement: none yet',
    ...r.settlement.next.map((n) => `next cut-off (${n.currency}, ${n.schedule}): ${n.nextRunAt}`),
    r.hourly ? `payments per hour\n${chart(r.hourly)}` : '',
    r.recent.length
      ? `latest payments\n${out.table(
          ['Id', 'Created', 'Status', 'Gateway', 'Amount'],
          r.recent.map((p) => [p.id, p.createdAt, p.status, p.gateway ?? '', money(p)]),
        )}`
      : '',
  ]
    .filter(Boolean)
    .join('\n')
}

const REPORT_COLUMNS = columns(
  ['branch', 'text'],
  ['tenant', 'text'],
  ['timezone', 'text'],
  ['from', 'text'],
  ['to', 'text'],
  ['count', 'number'],
  ['succeeded', 'number'],
  ['failed', 'number'],
  ['cancelled', 'number'],
  ['open', 'number'],
  ['success_rate_bp', 'number'],
  ['success_rate', 'number'],
  ['currency', 'text'],
  ['amount', 'number'],
  ['average', 'number'],
  ['converted_currency', 'text'],
  ['converted_amount', 'number'],
)

/** One line per branch and currency (a branch with no takings still has its line). */
export function reportCsv(rows: readonly BranchRow[]): string {
  const lines = rows.flatMap((r) =>
    (r.totals.length ? r.totals : [null]).map((t) => [
      r.branch,
      r.tenant,
      r.timezone,
      r.from,
      r.to,
      r.count,
      r.succeededCount,
      r.failedCount,
      r.cancelledCount,
      r.openCount,
      r.successRateBp,
      r.successRate,
      t?.currency,
      t?.amount,
      t?.average,
      r.converted?.currency,
      r.converted?.amount,
    ]),
  )
  return csvTable(REPORT_COLUMNS, lines)
}

export function reportCommand(ctx: CommandContext): Command {
  return new Command('report')
    .description('Takings, success rate, settlement and hourly volume per branch for a day or days')
    .option('--branch <code>', 'one branch in full (default: one row per branch)')
    .option('--date <day>', 'one day in the branch’s time zone (default today)')
    .option('--from <day>', 'first day (included)')
    .option('--to <day>', 'last day (included)')
    .option('--csv', 'the rows as CSV with a header')
    .addHelpText(
      'after',
      `
Days are whole days in each branch's time zone (YYYY-MM-DD, today, yesterday); a payment belongs
to the day it was created. Totals count succeeded payments only; the success rate is succeeded ÷
(succeeded + failed + cancelled), half-up in basis points. Without --branch, each branch's totals
are also converted to its tenant's currency with \`dsh rates\` (null, and said, when a rate is missing).

Examples:
  dsh report --branch westlands
  dsh report --date yesterday --json
  dsh report --from 2026-11-01 --to 2026-11-30 --csv > november.csv`,
    )
    .action(
      ctx.action(async (app, opts: ReportOpts) => {
        const { branchReport, branchesReport } = await import('../src/reports/report.js')
        const req = { date: opts.date, from: opts.from, to: opts.to }
        if (opts.branch) {
          const r = await branchReport(app, { ...req, branch: opts.branch })
          if (opts.csv && !app.out.json) app.rt.stdout.write(reportCsv([r]))
          else app.out.result(r, () => renderBranch(app.out, r))
          if (r.conversionNote) app.out.warn(r.conversionNote)
          return
        }
        const rows = await branchesReport(app, req)
        if (opts.csv && !app.out.json) app.rt.stdout.write(reportCsv(rows))
        else
          app.out.result(rows, () =>
            rows.length === 0
              ? 'no branches'
              : app.out.table(
                  [
                    'Branch',
                    'Tenant',
                    'Days',
                    'Payments',
                    'Succeeded',
                    'Rate',
                    'Takings',
                    'Converted',
                  ],
                  rows.map((r) => [
                    r.branch,
                    r.tenant,
                    r.from === r.to ? r.from : `${r.from}..${r.to}`,
                    r.count,
                    r.succeededCount,
                    rate(r),
                    r.totals.map(money).join(', ') || '–',
                    r.converted ? money(r.converted) : '–',
                  ]),
                ),
          )
        for (const r of rows) if (r.conversionNote) app.out.warn(`${r.branch}: ${r.conversionNote}`)
      }),
    )
}

export function ratesCommand(ctx: CommandContext): Command {
  const rates = new Command('rates').description(
    'Exchange rates for converted report totals (exact decimals)',
  )
  rates
    .command('set <from> <to> <rate>')
    .description('Set how many units of <to> one unit of <from> is worth, from a day on')
    .option('--as-of <day>', 'the first day the rate applies (default today)')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh rates set UGX KES 0.0351\n  dsh rates set TZS KES 0.0545 --as-of 2026-11-01',
    )
    .action(
      ctx.action(async (app, from: string, to: string, value: string, opts: { asOf?: string }) => {
        const { setRate } = await import('../src/reports/rates.js')
        const r = await setRate(app, { from, to, rate: value, asOf: opts.asOf })
        app.out.result(r, () => `1 ${r.from} = ${r.rate} ${r.to} from ${r.asOf}`)
      }),
    )
  rates
    .command('list')
    .description('List exchange rates, newest first per pair')
    .action(
      ctx.action(async (app) => {
        const { listRates } = await import('../src/reports/rates.js')
        const rows = await listRates(app)
        app.out.result(rows, () =>
          rows.length === 0
            ? 'no exchange rates: set one with `dsh rates set <from> <to> <rate>`'
            : app.out.table(
                ['From', 'To', 'Rate', 'As of', 'Set by'],
                rows.map((r) => [r.from, r.to, r.rate, r.asOf, r.createdBy]),
              ),
        )
      }),
    )
  return rates
}
