import type { Ctx } from '../context.js'
import { toDecimalString } from '../core/money/index.js'
import { paymentsList } from '../payments/queries.js'
import type { RunReport } from '../reconciliation/view.js'
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

/**
 * The closing views: per branch, the day's payments by outcome and the succeeded totals, the
 * settlement batches, and what reconciliation found.
 */
export async function finalViews(
  ctx: Ctx,
  branches: readonly string[],
  runs: readonly RunReport[],
): Promise<string> {
  const payments = await paymentsList(ctx, { limit: '100000' })
  const batches = await listSettlements(ctx, { limit: '100000' })
  const out: string[] = []
  const rows = branches.map((code) => {
    const mine = payments.filter((p) => p.branch === code)
    const n = (s: string) => String(mine.filter((p) => p.status === s).length)
    const ok = mine.filter((p) => p.status === 'succeeded')
    const currency = ok[0]?.currency ?? mine[0]?.currency ?? ''
    const total = ok.reduce((s, p) => s + BigInt(p.amountMinor), 0n)
    return [
      code,
      String(mine.length),
      n('succeeded'),
      n('failed'),
      n('cancelled'),
      currency ? `${toDecimalString({ minor: total, currency })} ${currency}` : '',
    ]
  })
  out.push(
    'Payments',
    table(['Branch', 'Count', 'Succeeded', 'Failed', 'Cancelled', 'Succeeded total'], rows),
  )
  out.push(
    '',
    'Settlement batches',
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
    'Reconciliation',
    table(
      ['Branch', 'Lines', 'Matched', 'Auto-matched', 'Discrepancies'],
      runs.map((r) => [
        r.branch,
        String(r.summary.lines),
        String(r.summary.matched),
        `${Math.floor(r.summary.autoMatchRateBp / 100)}.${String(r.summary.autoMatchRateBp % 100).padStart(2, '0')}%`,
        Object.entries(r.summary.byCategory)
          .filter(([, n]) => n > 0)
          .map(([c, n]) => `${c} ${n}`)
          .join(', ') || 'none',
      ]),
    ),
  )
  return out.join('\n')
}
