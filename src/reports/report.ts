import type { Ctx } from '../context.js'
import { toDecimalString } from '../core/money/format.js'
import { convert } from '../core/money/fx.js'
import { averageMinor, bpAsPercent, successRateBp } from '../core/reports.js'
import {
  addDays,
  type DayRange,
  dayIn,
  formatDay,
  parseDayRange,
  startOfDay,
  zoneOffsetMs,
} from '../core/time.js'
import { type PaymentView, paymentView } from '../payments/view.js'
import { listSettlements, type NextRun, nextSettlements } from '../settlement/lifecycle.js'
import type { BatchView } from '../settlement/view.js'
import { type BranchWithTenant, listBranches, requireBranch } from '../tenants/branches.js'
import { listTenants } from '../tenants/tenants.js'
import { type Alert, openAlerts } from './health.js'
import { rateOn } from './rates.js'
import {
  type FigureRow,
  hourlyCounts,
  meanProcessingSeconds,
  paymentFigures,
  pendingSettlement,
  recentPayments,
} from './report-store.js'

export interface ReportRequest {
  branch?: string | undefined
  date?: string | undefined
  from?: string | undefined
  to?: string | undefined
}

/** Money of one currency: `count` payments summing to `amount`, and their mean. */
export interface Total {
  currency: string
  count: number
  amountMinor: bigint
  amount: string
  averageMinor: bigint
  average: string
}

export interface Counts {
  count: number
  succeededCount: number
  failedCount: number
  cancelledCount: number
  openCount: number
  successRateBp: number | null
  successRate: string | null
}

export interface BranchRow extends Counts {
  branch: string
  tenant: string
  timezone: string
  from: string
  to: string
  totals: Total[]
  converted: {
    currency: string
    amountMinor: bigint
    amount: string
    rate: string
    asOf: string
  } | null
  /** Why `converted` is null (a currency with no rate), for people. */
  conversionNote: string | null
}

export interface BranchReport extends BranchRow {
  byMethod: (Total & { method: string })[]
  byGateway: (Total & { gateway: string })[]
  averageProcessingSeconds: number | null
  settlement: {
    /** The branch's newest settlement batch, as `dsh settlements show` has it. */
    lastBatch: BatchView | null
    /** The next scheduled cut-off of each of its settlement accounts (`dsh settlements next`). */
    next: NextRun[]
    /** Succeeded payments not yet settled, per currency: what the next transfers move (no cash). */
    pending: { currency: string; count: number; amountMinor: bigint; amount: string }[]
    /** Cash taken and not yet banked, per currency (unsettled, or in a cash-up awaiting deposit). */
    pendingDeposit: { currency: string; count: number; amountMinor: bigint; amount: string }[]
    /** The branch's cash-ups awaiting their deposit, oldest first. */
    awaitingDeposit: BatchView[]
  }
  recent: PaymentView[]
  /** Alerts open for the branch (from the last `dsh health` or daemon evaluation). */
  alerts: Alert[]
  /** One entry per local hour, for a report of one day; null for a range of days. */
  hourly: { hour: string; count: number; succeededCount: number }[] | null
}

const FINAL_FAILED = new Set(['failed'])
const OPEN = new Set(['created', 'pending', 'unknown', 'needs_review'])

/** The days asked for in the branch's time zone as [start, end) instants; today by default. */
function daysOf(b: BranchWithTenant, req: ReportRequest, now: Date) {
  const zone = b.timezone
  const range: DayRange = parseDayRange(req, zone, now) ?? {
    start: startOfDay(zone, dayIn(zone, now)),
    end: startOfDay(zone, addDays(dayIn(zone, now), 1)),
  }
  const start = range.start ?? new Date(0)
  const end = range.end ?? startOfDay(zone, addDays(dayIn(zone, now), 1))
  const oneDay = end.getTime() - start.getTime() <= 25 * 3_600_000
  return {
    start,
    end,
    oneDay,
    from: formatDay(dayIn(zone, start)),
    to: formatDay(dayIn(zone, new Date(end.getTime() - 1))),
  }
}

function counts(rows: FigureRow[]): Counts {
  const n = (pred: (r: FigureRow) => boolean) => rows.filter(pred).reduce((a, r) => a + r.count, 0)
  const succeededCount = n((r) => r.status === 'succeeded')
  const failedCount = n((r) => FINAL_FAILED.has(r.status))
  const cancelledCount = n((r) => r.status === 'cancelled')
  const bp = successRateBp(succeededCount, failedCount, cancelledCount)
  return {
    count: n(() => true),
    succeededCount,
    failedCount,
    cancelledCount,
    openCount: n((r) => OPEN.has(r.status)),
    successRateBp: bp,
    successRate: bpAsPercent(bp),
  }
}

/** Totals of succeeded payments per key and currency, sorted. */
function totalsBy<K extends string>(rows: FigureRow[], key: (r: FigureRow) => K) {
  const groups = new Map<string, { k: K; currency: string; count: number; minor: bigint }>()
  for (const r of rows) {
    if (r.status !== 'succeeded') continue
    const k = key(r)
    const id = `${k}\u0000${r.currency}`
    const g = groups.get(id) ?? { k, currency: r.currency, count: 0, minor: 0n }
    g.count += r.count
    g.minor += r.amountMinor
    groups.set(id, g)
  }
  return [...groups.values()]
    .sort((a, b) => (a.k === b.k ? a.currency.localeCompare(b.currency) : a.k.localeCompare(b.k)))
    .map((g) => ({ key: g.k, total: total(g.currency, g.count, g.minor) }))
}

function total(currency: string, count: number, minor: bigint): Total {
  const avg = averageMinor(minor, count)
  return {
    currency,
    count,
    amountMinor: minor,
    amount: toDecimalString({ minor, currency }),
    averageMinor: avg,
    average: toDecimalString({ minor: avg, currency }),
  }
}

async function row(
  ctx: Ctx,
  b: BranchWithTenant,
  tenantCurrency: string,
  req: ReportRequest,
): Promise<{ base: BranchRow; figures: FigureRow[]; days: ReturnType<typeof daysOf> }> {
  const store = await ctx.store()
  const days = daysOf(b, req, ctx.clock.now())
  const figures = await paymentFigures(
    store.db,
    b.id,
    days.start.toISOString(),
    days.end.toISOString(),
  )
  const totals = totalsBy(figures, () => '').map((t) => t.total)
  const { converted, note } = await convertTotals(ctx, totals, tenantCurrency, days.to)
  return {
    base: {
      branch: b.code,
      tenant: b.tenant_slug,
      timezone: b.timezone,
      from: days.from,
      to: days.to,
      ...counts(figures),
      totals,
      converted,
      conversionNote: note,
    },
    figures,
    days,
  }
}

/** The totals in the tenant's currency at the rates in force on the last day; null if one is missing. */
async function convertTotals(ctx: Ctx, totals: Total[], to: string, day: string) {
  let sum = 0n
  const used: { rate: string; text: string; asOf: string }[] = []
  for (const t of totals) {
    if (t.currency === to) {
      sum += t.amountMinor
      continue
    }
    const r = await rateOn(ctx, t.currency, to, day)
    if (!r)
      return {
        converted: null,
        note: `no ${t.currency}→${to} rate on or before ${day}: set one with \`dsh rates set ${t.currency} ${to} <rate>\``,
      }
    sum += convert({ minor: t.amountMinor, currency: t.currency }, to, r.rate).minor
    used.push({ rate: `${t.currency}/${to} ${r.text}`, text: r.text, asOf: r.asOf })
  }
  return {
    converted: {
      currency: to,
      amountMinor: sum,
      amount: toDecimalString({ minor: sum, currency: to }),
      // One foreign currency: its exact rate; none: 1; several: each named.
      rate: used.length === 1 ? used[0]!.text : used.map((u) => u.rate).join(', ') || '1',
      asOf:
        used
          .map((u) => u.asOf)
          .sort()
          .at(-1) ?? day,
    },
    note: null,
  }
}

const pendingOf = (
  rows: Awaited<ReturnType<typeof pendingSettlement>>,
  kind: 'transfer' | 'deposit',
) =>
  rows
    .filter((p) => p.kind === kind)
    .map(({ currency, count, amountMinor }) => ({
      currency,
      count,
      amountMinor,
      amount: toDecimalString({ minor: amountMinor, currency }),
    }))

/** `dsh report --branch`: the branch's dashboard for a day or a range of days. */
export async function branchReport(ctx: Ctx, req: ReportRequest & { branch: string }) {
  const store = await ctx.store()
  const b = await requireBranch(store.db, req.branch)
  const tenant = (await listTenants(store.db)).find((t) => t.id === b.tenant_id)
  const { base, figures, days } = await row(ctx, b, tenant?.currency ?? b.currency, req)
  const from = days.start.toISOString()
  const to = days.end.toISOString()
  const pending = await pendingSettlement(store.db, b.id)
  const report: BranchReport = {
    ...base,
    byMethod: totalsBy(figures, (r) => r.method).map((t) => ({ method: t.key, ...t.total })),
    byGateway: totalsBy(figures, (r) => r.gateway ?? 'none').map((t) => ({
      gateway: t.key,
      ...t.total,
    })),
    averageProcessingSeconds: await meanProcessingSeconds(store.db, b.id, from, to).then((s) =>
      s === null ? null : Math.round(s * 10) / 10,
    ),
    settlement: {
      lastBatch: (await listSettlements(ctx, { branch: b.code, limit: '1' }))[0] ?? null,
      next: await nextSettlements(ctx, { branch: b.code }),
      pending: pendingOf(pending, 'transfer'),
      pendingDeposit: pendingOf(pending, 'deposit'),
      awaitingDeposit: (
        await listSettlements(ctx, { branch: b.code, status: 'awaiting_deposit' })
      ).reverse(),
    },
    recent: (await recentPayments(store.db, b.id, from, to, 10)).map((p) => paymentView(p, b.code)),
    hourly: days.oneDay ? await hourly(store.db, b, days.start, from, to) : null,
    alerts: await openAlerts(ctx, b.code),
  }
  return report
}

/** 24 local hours of the day, each with its count (zero hours included, so a chart has them all). */
async function hourly(
  db: Parameters<typeof hourlyCounts>[0],
  b: BranchWithTenant,
  start: Date,
  from: string,
  to: string,
) {
  const byUtcHour = new Map(
    (await hourlyCounts(db, b.id, from, to)).map((h) => [h.hour, h] as const),
  )
  const out: { hour: string; count: number; succeededCount: number }[] = []
  for (let t = start.getTime(); t < Date.parse(to); t += 3_600_000) {
    const key = new Date(t).toISOString().slice(0, 13)
    const local = new Date(t + zoneOffsetMs(b.timezone, new Date(t)))
    const h = byUtcHour.get(key)
    out.push({
      hour: `${String(local.getUTCHours()).padStart(2, '0')}:00`,
      count: h?.count ?? 0,
      succeededCount: h?.succeeded ?? 0,
    })
  }
  return out
}

/** `dsh report` without a branch: one row per branch, to compare them. */
export async function branchesReport(ctx: Ctx, req: ReportRequest): Promise<BranchRow[]> {
  const store = await ctx.store()
  const tenants = new Map((await listTenants(store.db)).map((t) => [t.id, t]))
  const out: BranchRow[] = []
  for (const b of await listBranches(store.db)) {
    const currency = tenants.get(b.tenant_id)?.currency ?? b.currency
    out.push((await row(ctx, b, currency, req)).base)
  }
  return out.sort((a, b) => a.tenant.localeCompare(b.tenant) || a.branch.localeCompare(b.branch))
}
