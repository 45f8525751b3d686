import type { Kysely } from 'kysely'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { fieldError, notFound } from '../core/errors.js'
import { parseAmount } from '../core/money/index.js'
import { matchBatches } from '../core/reconciliation/batches.js'
import {
  CATEGORIES,
  type Category,
  DEFAULT_OPTIONS,
  type Decisions,
  type Finding,
  type LineIn,
  type LiveMatch,
  type MatchOptions,
  matchPayments,
  type NewMatch,
  SEVERITY,
} from '../core/reconciliation/match.js'
import { parseStatementDate } from '../core/statements/canonical.js'
import {
  fillReceipts,
  type MatchPayment,
  paymentsShown,
  paymentsToMatch,
  type ReconPayment,
} from '../payments/reconcile.js'
import {
  batchesForReconciliation,
  completeFromStatement,
  type ReconBatch,
  type StatementPayment,
} from '../settlement/reconcile.js'
import {
  completedLines,
  type LineWithFile,
  statementsOf as listStatements,
  placeLines,
  type ReconLine,
  type StatementRow,
} from '../statements/lines.js'
import type { Database } from '../store/schema.js'
import type { BranchWithTenant } from '../tenants/branches.js'
import { requireBranch } from '../tenants/branches.js'
import {
  insertDiscrepancies,
  insertMatches,
  insertRun,
  listDecisions,
  liveMatches,
  type ReconDecisionRow,
  type ReconMatchRow,
} from './recon-store.js'
import {
  batchRefView,
  type DiscrepancyView,
  lineView,
  moneyTriple,
  paymentRefView,
  type RunReport,
} from './view.js'

export interface RunRequest {
  branch: string
  /** A day (yyyy-mm-dd, in the branch's time zone) or an ISO time; default the statements' start. */
  from?: string | undefined
  /** A day (that whole day counts) or an ISO time; default the statements' end. */
  to?: string | undefined
  /** How long a processing batch may wait for its credit before it is `late` (e.g. 3d, 36h). */
  grace?: string | undefined
  /** Only these categories make the run fail (exit 8); default all. */
  failOn?: readonly string[] | undefined
  /** Pair unique candidates whose amount differs by at most this (an amount or a percentage). */
  tolerance?: string | undefined
  dryRun?: boolean | undefined
}

export interface RunOutcome {
  report: RunReport
  /** Discrepancies in the categories that count (failOn). */
  failing: number
}

const DAY = 86_400_000

function parseBound(text: string, field: 'from' | 'to', tz: string): number {
  const t = text.trim()
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) {
    try {
      const d = parseStatementDate(t, ['yyyy-mm-dd'], tz)
      return field === 'to' ? d.ms + DAY : d.ms
    } catch (e) {
      throw fieldError('validation', 'invalid_date', [field], `${field}: ${(e as Error).message}`)
    }
  }
  const ms = Date.parse(t)
  if (!/^\d{4}-\d{2}-\d{2}T/.test(t) || Number.isNaN(ms))
    throw fieldError(
      'validation',
      'invalid_date',
      [field],
      `${field}: "${text}" is not a day (2026-11-03) or an ISO time (2026-11-03T09:00:00Z)`,
    )
  return ms
}

export function parseGrace(text: string): number {
  const m = /^(\d+)\s*(d|h|m)$/.exec(text.trim())
  if (!m)
    throw fieldError(
      'validation',
      'invalid_grace',
      ['grace'],
      `grace: "${text}" is not a duration like 3d, 36h or 90m`,
    )
  const n = Number(m[1])
  return n * (m[2] === 'd' ? DAY : m[2] === 'h' ? 3_600_000 : 60_000)
}

function parseFailOn(list: readonly string[] | undefined): Set<Category> {
  if (!list || list.length === 0) return new Set(CATEGORIES)
  const out = new Set<Category>()
  for (const c of list
    .flatMap((x) => x.split(','))
    .map((x) => x.trim())
    .filter(Boolean)) {
    if (!(CATEGORIES as readonly string[]).includes(c))
      throw fieldError(
        'validation',
        'invalid_category',
        ['failOn'],
        `failOn: unknown category "${c}" (known: ${CATEGORIES.join(', ')})`,
      )
    out.add(c as Category)
  }
  return out
}

function parseTolerance(
  text: string | undefined,
  currency: string,
): Pick<MatchOptions, 'toleranceMinor' | 'toleranceBp'> {
  if (!text) return { toleranceMinor: 0n, toleranceBp: 0 }
  const t = text.trim()
  const pct = /^(\d+(?:\.\d{1,2})?)%$/.exec(t)
  if (pct) {
    const [w, f = ''] = (pct[1] as string).split('.')
    return { toleranceMinor: 0n, toleranceBp: Number(w) * 100 + Number(f.padEnd(2, '0')) }
  }
  try {
    const m = parseAmount(t, currency)
    if (m.minor < 0n) throw new Error('negative')
    return { toleranceMinor: m.minor, toleranceBp: 0 }
  } catch {
    throw fieldError(
      'validation',
      'invalid_tolerance',
      ['tolerance'],
      `tolerance: "${text}" is not an amount (5.00) or a percentage (1%)`,
    )
  }
}

/** A stored line as the matcher reads it (`explain`; a run reads ReconLine, already one). */
export const toLineIn = (
  l: Pick<
    LineWithFile,
    | 'id'
    | 'booked_at'
    | 'amount_minor'
    | 'currency'
    | 'transaction_id'
    | 'reference'
    | 'counterparty'
  >,
): LineIn => ({
  id: l.id,
  bookedAtMs: Date.parse(l.booked_at),
  amountMinor: BigInt(l.amount_minor),
  currency: l.currency,
  transactionId: l.transaction_id,
  reference: l.reference,
  counterparty: l.counterparty,
})

/** A payment as the matcher reads it (`explain`; a run reads MatchPayment, already one). */
export const toPaymentIn = (p: ReconPayment) => ({
  id: p.id,
  status: p.status,
  receiptNumber: p.receiptNumber,
  amountMinor: p.amountMinor,
  currency: p.currency,
  createdAtMs: Date.parse(p.createdAt),
  phone: p.phone,
})

export function decisionsOf(rows: readonly ReconDecisionRow[]): Decisions {
  const ignoredLines = new Set<string>()
  const rejectedPairs = new Set<string>()
  for (const d of rows) {
    if (d.decision === 'ignore') ignoredLines.add(d.statement_line_id)
    if (d.decision === 'reject' && d.target_id)
      rejectedPairs.add(`${d.statement_line_id}|${d.target_id}`)
  }
  return { ignoredLines, rejectedPairs }
}

/** The [from, to) window a run covers: the flags, else the branch's statements. */
function runWindow(statements: readonly StatementRow[], req: RunRequest, tz: string) {
  const from = req.from
    ? parseBound(req.from, 'from', tz)
    : Math.min(...statements.map((s) => Date.parse(s.period_from)))
  const to = req.to
    ? parseBound(req.to, 'to', tz)
    : // A period ends at its last line (inclusive) or at the preamble day's end (exclusive).
      Math.max(...statements.map((s) => Date.parse(s.period_to) + 1))
  if (!(from < to))
    throw fieldError('validation', 'invalid_window', ['from', 'to'], 'from must be before to')
  return { from, to }
}

interface Computed {
  matches: NewMatch[]
  findings: Finding[]
  lines: Map<string, ReconLine>
  payments: Map<string, MatchPayment>
  batches: Map<string, ReconBatch>
  summary: { lines: number; matched: number; autoMatched: number }
}

const iso = (ms: number) => new Date(ms).toISOString()

/** The parts of [from, to) each statement covers. */
const coverageOf = (statements: readonly StatementRow[], from: number, to: number) =>
  statements
    .map(
      (s) =>
        [
          Math.max(from, Date.parse(s.period_from)),
          Math.min(to, Date.parse(s.period_to) + 1),
        ] as const,
    )
    .filter(([a, b]) => a < b)

/** What both matchers read: the branch's statements of their kind, the window, what stands. */
interface Scope {
  trx: Kysely<Database>
  branch: BranchWithTenant
  statements: readonly StatementRow[]
  from: number
  to: number
  live: readonly ReconMatchRow[]
  decisions: Decisions
}

const liveIn = (live: readonly ReconMatchRow[]): LiveMatch[] =>
  live.map((m) => ({
    lineId: m.statement_line_id,
    paymentId: m.payment_id,
    batchId: m.batch_id,
    pass: m.pass,
  }))

const byId = <T extends { id: string }>(rows: readonly T[]) => new Map(rows.map((r) => [r.id, r]))

/**
 * M-Pesa lines against the branch's M-Pesa payments: both read once (indexed range reads of the
 * window, a day wider for payments), then matched in memory by hash and sorted-window lookups.
 */
async function computeMpesa(
  { trx, branch, statements, from, to, live, decisions }: Scope,
  options: Pick<MatchOptions, 'toleranceMinor' | 'toleranceBp'>,
): Promise<Computed> {
  const lineRows = await completedLines(trx, branch.id, 'mpesa', iso(from), iso(to))
  const payments = await paymentsToMatch(trx, branch.id, 'mpesa', iso(from - DAY), iso(to + DAY))
  const result = matchPayments(lineRows, payments, liveIn(live), decisions, {
    ...DEFAULT_OPTIONS,
    ...options,
    coverage: coverageOf(statements, from, to),
  })
  return { ...result, lines: byId(lineRows), payments: byId(payments), batches: new Map() }
}

/** Bank credits against the branch's settlement batches and cash-ups. */
async function computeBank(
  { trx, branch, statements, from, to, live, decisions }: Scope,
  graceMs: number,
  nowMs: number,
): Promise<Computed> {
  const lineRows = await completedLines(trx, branch.id, 'bank', iso(from), iso(to))
  const batches = await batchesForReconciliation(trx, branch.id)
  const result = matchBatches(
    lineRows,
    batches.map((b) => ({
      id: b.id,
      kind: b.kind,
      reference: b.reference,
      status: b.status,
      currency: b.currency,
      netMinor: b.netMinor,
      sentAtMs: Date.parse(b.sentAt),
      cutoffMs: Date.parse(b.cutoffAt),
    })),
    liveIn(live),
    decisions,
    {
      beforeMs: DAY,
      graceMs,
      nowMs,
      coverage: coverageOf(statements, from, to),
      maxGroup: 5,
    },
  )
  return { ...result, lines: byId(lineRows), payments: new Map(), batches: byId(batches) }
}

/**
 * Reconciles a branch's imported statements against dsh: M-Pesa lines against its M-Pesa
 * payments. One transaction: the matches, the discrepancies and the run are written together
 * (nothing with dryRun). The report is the same for the same data, whatever the line order.
 */
export async function reconcileRun(ctx: Ctx, req: RunRequest): Promise<RunOutcome> {
  const store = await ctx.store()
  const branch = await requireBranch(store.db, req.branch)
  const failOn = parseFailOn(req.failOn)
  const tolerance = parseTolerance(req.tolerance, branch.currency)
  if (req.grace) parseGrace(req.grace)
  const runId = ctx.ids.next('rr')
  const now = ctx.clock.now().toISOString()
  const work = async (trx: Kysely<Database>) => {
    const mpesa = await listStatements(trx, branch.id, 'mpesa')
    const bank = await listStatements(trx, branch.id, 'bank')
    if (mpesa.length + bank.length === 0)
      throw notFound(
        'no_statements',
        `branch ${branch.code} has no imported statements`,
        'import one first: dsh reconcile import <file.csv> --branch <code> --profile mpesa',
      )
    const { from, to } = runWindow([...mpesa, ...bank], req, branch.timezone)
    const live = await liveMatches(trx, branch.id)
    const decisions = decisionsOf(await listDecisions(trx, branch.id))
    const scope = { trx, branch, from, to, live, decisions }
    const parts: Computed[] = []
    if (mpesa.length > 0) parts.push(await computeMpesa({ ...scope, statements: mpesa }, tolerance))
    if (bank.length > 0)
      parts.push(
        await computeBank(
          { ...scope, statements: bank },
          req.grace ? parseGrace(req.grace) : 3 * DAY,
          ctx.clock.now().getTime(),
        ),
      )
    // The parts' maps are joined into the largest one (no copy of 100k entries for one part).
    const join = <V>(maps: Map<string, V>[]) => {
      const [into = new Map<string, V>(), ...rest] = [...maps].sort((a, b) => b.size - a.size)
      for (const m of rest) for (const [k, v] of m) into.set(k, v)
      return into
    }
    const lines = join(parts.map((p) => p.lines))
    const payments = join(parts.map((p) => p.payments))
    const batches = join(parts.map((p) => p.batches))
    const findings = parts.flatMap((p) => p.findings)
    const matches = parts.flatMap((p) => p.matches)
    const summary = { lines: 0, matched: 0, autoMatched: 0 }
    for (const p of parts) {
      summary.lines += p.summary.lines
      summary.matched += p.summary.matched
      summary.autoMatched += p.summary.autoMatched
    }
    const timeOf = (f: Finding) =>
      f.lineId
        ? (lines.get(f.lineId)?.bookedAt ?? '')
        : f.paymentId
          ? (payments.get(f.paymentId)?.createdAt ?? '')
          : f.batchId
            ? (batches.get(f.batchId)?.sentAt ?? '')
            : ''
    const sorted = findings
      .map((f) => ({ f, t: timeOf(f) }))
      .sort(
        (a, b) =>
          (a.t < b.t ? -1 : a.t > b.t ? 1 : 0) ||
          CATEGORIES.indexOf(a.f.category) - CATEGORIES.indexOf(b.f.category) ||
          (a.f.lineId ?? '').localeCompare(b.f.lineId ?? '') ||
          (a.f.paymentId ?? '').localeCompare(b.f.paymentId ?? '') ||
          (a.f.batchId ?? '').localeCompare(b.f.batchId ?? ''),
      )
      .map((x) => x.f)
    // Where the reported lines are (statement, file, line number): read for them alone.
    const shown = await placeLines(
      trx,
      sorted.flatMap((f) => {
        const l = f.lineId ? lines.get(f.lineId) : undefined
        return l ? [l] : []
      }),
      [...mpesa, ...bank],
    )
    const shownPayments = await paymentsShown(
      trx,
      sorted.flatMap((f) => {
        const p = f.paymentId ? payments.get(f.paymentId) : undefined
        return p ? [p] : []
      }),
    )
    const byCategory = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>
    const discrepancies: DiscrepancyView[] = sorted.map((f) => {
      byCategory[f.category]++
      const l = f.lineId ? shown.get(f.lineId) : undefined
      const p = f.paymentId ? shownPayments.get(f.paymentId) : undefined
      const b = f.batchId ? batches.get(f.batchId) : undefined
      return {
        id: ctx.ids.next('rd'),
        category: f.category,
        severity: SEVERITY[f.category],
        pass: f.pass,
        rule: f.rule,
        statementLine: l ? lineView(l) : null,
        payment: p ? paymentRefView(p) : null,
        batch: b ? batchRefView(b) : null,
        ...moneyTriple(f.expectedMinor, f.actualMinor, f.currency),
        suggestion: f.suggestion,
      }
    })
    const report: RunReport = {
      runId,
      branch: branch.code,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      summary: {
        lines: summary.lines,
        matched: summary.matched,
        discrepancies: discrepancies.length,
        byCategory,
        autoMatchRateBp:
          summary.lines === 0 ? 10_000 : Math.floor((summary.autoMatched * 10_000) / summary.lines),
      },
      discrepancies,
    }
    if (req.dryRun) return report
    const { toJson } = await import('../core/json.js')
    await insertRun(trx, {
      id: runId,
      branch_id: branch.id,
      period_from: report.from,
      period_to: report.to,
      summary: toJson(report.summary),
      report: toJson(report),
      created_at: now,
      created_by: ctx.actor,
    })
    await insertMatches(
      trx,
      matches.map((m) => ({
        id: ctx.ids.next('rm'),
        run_id: runId,
        branch_id: branch.id,
        statement_line_id: m.lineId,
        payment_id: m.paymentId,
        batch_id: m.batchId,
        pass: m.pass,
        rule: m.rule,
        created_at: now,
        unmatched_at: null,
        unmatched_reason: null,
      })),
    )
    // Payments resolved by an STK query get the receipt their line shows.
    const receipts: { paymentId: string; receipt: string }[] = []
    for (const m of matches) {
      const l = lines.get(m.lineId)
      const p = m.paymentId ? payments.get(m.paymentId) : undefined
      if (l?.transactionId && p && !p.receiptNumber)
        receipts.push({ paymentId: p.id, receipt: l.transactionId })
    }
    await fillReceipts(ctx, trx, receipts)
    // A paid batch is completed through the settlement service (audited, payments settled), with
    // the statement's reference as the bank reference: a credit that paid several batches paid
    // each its net; a batch paid by several credits got their sum.
    const paidToBatch = new Map<string, bigint>()
    const batchesOfLine = new Map<string, number>()
    for (const m of matches) {
      if (!m.batchId) continue
      const amount = lines.get(m.lineId)?.amountMinor ?? 0n
      paidToBatch.set(m.batchId, (paidToBatch.get(m.batchId) ?? 0n) + amount)
      batchesOfLine.set(m.lineId, (batchesOfLine.get(m.lineId) ?? 0) + 1)
    }
    const paid: StatementPayment[] = []
    for (const m of matches) {
      const l = lines.get(m.lineId)
      if (!l || !m.batchId) continue
      const b = batches.get(m.batchId)
      paid.push({
        batchId: m.batchId,
        bankRef: l.transactionId ?? l.reference,
        amountMinor:
          (batchesOfLine.get(m.lineId) ?? 1) > 1 && b
            ? b.netMinor
            : (paidToBatch.get(m.batchId) ?? 0n),
      })
    }
    await completeFromStatement(ctx, trx, paid)
    await insertDiscrepancies(
      trx,
      discrepancies.map((d) => ({
        id: d.id,
        run_id: runId,
        category: d.category,
        severity: d.severity,
        pass: d.pass,
        rule: d.rule,
        statement_line_id: d.statementLine?.id ?? null,
        payment_id: d.payment?.id ?? null,
        batch_id: d.batch?.id ?? null,
        expected_minor: d.expectedMinor,
        actual_minor: d.actualMinor,
        difference_minor: d.differenceMinor,
        currency: d.currency,
        suggestion: d.suggestion,
      })),
    )
    await audit(ctx, trx, {
      action: 'reconcile.run',
      tenant: branch.tenant_slug,
      branch: branch.code,
      target: runId,
      request: { from: report.from, to: report.to, newMatches: matches.length, ...report.summary },
    })
    return report
  }
  const report = req.dryRun ? await work(store.db) : await store.write(work)
  const failing = report.discrepancies.filter((d) => failOn.has(d.category)).length
  return { report, failing }
}

/** A stored run's report: the JSON text exactly as the run printed it, and the document. */
export async function reconcileReport(
  ctx: Ctx,
  runId: string,
): Promise<{ text: string; report: RunReport }> {
  const store = await ctx.store()
  const { findRun } = await import('./recon-store.js')
  const run = await findRun(store.db, runId)
  if (!run) throw notFound('run_not_found', `no reconciliation run ${runId}`)
  return { text: run.report, report: JSON.parse(run.report) as RunReport }
}
