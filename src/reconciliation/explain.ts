import type { Ctx } from '../context.js'
import { notFound } from '../core/errors.js'
import { toDecimalString } from '../core/money/index.js'
import { DEFAULT_OPTIONS, firstFailed } from '../core/reconciliation/match.js'
import { paymentsForReconciliation } from '../payments/reconcile.js'
import { statementLine as findLine } from '../statements/lines.js'
import { listDecisions, liveMatches } from './recon-store.js'
import { decisionsOf, toLineIn, toPaymentIn } from './run.js'
import { lineView, type StatementLineView } from './view.js'

export interface CandidateView {
  paymentId: string
  status: string
  receiptNumber: string | null
  amountMinor: bigint
  amount: string
  currency: string
  createdAt: string
  /** The first criterion the payment failed, or null when it fits. */
  failed: string | null
  detail: string
}

export interface Explanation {
  statementLine: StatementLineView
  state: 'matched' | 'ignored' | 'open'
  match: { paymentId: string | null; batchId: string | null; pass: string; rule: string } | null
  decisions: { decision: string; targetId: string | null; reason: string; at: string; by: string }[]
  candidates: CandidateView[]
}

const HOUR = 3_600_000

/**
 * Why a statement line matched or did not: every payment considered (same receipt, same amount,
 * or inside the time window, within a day of the line) with the first criterion it failed.
 */
export async function explainLine(ctx: Ctx, lineId: string): Promise<Explanation> {
  const store = await ctx.store()
  const db = store.db
  const line = await findLine(db, lineId)
  if (!line) throw notFound('line_not_found', `no statement line ${lineId}`)
  const l = toLineIn(line)
  const decisionRows = (await listDecisions(db, line.branch_id)).filter(
    (d) => d.statement_line_id === line.id,
  )
  const decisions = decisionsOf(decisionRows)
  const live = await liveMatches(db, line.branch_id)
  const mine = live.find((m) => m.statement_line_id === line.id)
  const usedBy = new Map(
    live.filter((m) => m.payment_id).map((m) => [m.payment_id as string, m.statement_line_id]),
  )
  const payments = await paymentsForReconciliation(
    db,
    line.branch_id,
    line.kind === 'mpesa' ? 'mpesa' : '',
    new Date(l.bookedAtMs - 24 * HOUR).toISOString(),
    new Date(l.bookedAtMs + 24 * HOUR).toISOString(),
  )
  const o = DEFAULT_OPTIONS
  const candidates: CandidateView[] = []
  for (const p of payments) {
    const pi = toPaymentIn(p)
    const sameReceipt =
      !!p.receiptNumber && p.receiptNumber.toUpperCase() === (l.transactionId ?? '').toUpperCase()
    const inWindow =
      l.bookedAtMs >= pi.createdAtMs - o.windowBeforeMs &&
      l.bookedAtMs <= pi.createdAtMs + o.windowAfterMs
    if (!sameReceipt && p.amountMinor !== l.amountMinor && !inWindow) continue
    let failed: string | null = firstFailed(l, pi, o, decisions)
    if (sameReceipt && failed === 'time window') failed = null
    const other = usedBy.get(p.id)
    if (failed === null && other && other !== line.id) failed = 'used'
    const detail =
      failed === null
        ? mine?.payment_id === p.id
          ? `matched (${mine.pass})`
          : 'fits'
        : failed === 'status'
          ? `payment is ${p.status}, only succeeded payments match${p.status === 'failed' || p.status === 'cancelled' ? '' : ' (adopt it if it is this money)'}`
          : failed === 'receipt'
            ? `receipt ${p.receiptNumber} is not ${l.transactionId}`
            : failed === 'currency'
              ? `${p.currency} is not ${l.currency}`
              : failed === 'amount'
                ? `${toDecimalString({ minor: p.amountMinor, currency: p.currency })} is not ${toDecimalString({ minor: l.amountMinor, currency: l.currency })}`
                : failed === 'time window'
                  ? `created ${p.createdAt}; the line (${line.booked_at}) must be within ${o.windowBeforeMs / 60_000} min before and ${o.windowAfterMs / 60_000} min after`
                  : failed === 'phone'
                    ? `phone digits differ from ${line.counterparty}`
                    : failed === 'rejected'
                      ? 'this pair was rejected'
                      : `already matched to line ${other}`
    candidates.push({
      paymentId: p.id,
      status: p.status,
      receiptNumber: p.receiptNumber,
      amountMinor: p.amountMinor,
      amount: toDecimalString({ minor: p.amountMinor, currency: p.currency }),
      currency: p.currency,
      createdAt: p.createdAt,
      failed,
      detail,
    })
  }
  return {
    statementLine: lineView(line),
    state: mine ? 'matched' : decisions.ignoredLines.has(line.id) ? 'ignored' : 'open',
    match: mine
      ? { paymentId: mine.payment_id, batchId: mine.batch_id, pass: mine.pass, rule: mine.rule }
      : null,
    decisions: decisionRows.map((d) => ({
      decision: d.decision,
      targetId: d.target_id,
      reason: d.reason,
      at: d.created_at,
      by: d.created_by,
    })),
    candidates,
  }
}
