import type { Kysely } from 'kysely'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { conflict, fieldError, notFound } from '../core/errors.js'
import {
  adoptPayment,
  assertAdoptable,
  fillReceipts,
  paymentForReconciliation,
  type ReconPayment,
} from '../payments/reconcile.js'
import { batchesForReconciliation, completeFromStatement } from '../settlement/reconcile.js'
import { statementLine as findLine, type LineWithFile } from '../statements/lines.js'
import type { Database } from '../store/schema.js'
import { requireBranchById } from '../tenants/branches.js'
import {
  insertDecision,
  insertMatches,
  latestDiscrepancyOfLine,
  liveMatchesOfLine,
  liveMatchOfPayment,
  unmatch,
} from './recon-store.js'
import {
  type BatchRefView,
  batchRefView,
  lineView,
  type PaymentRefView,
  paymentRefView,
  type StatementLineView,
} from './view.js'

export type DecisionKind = 'confirm' | 'reject' | 'ignore'

export interface DecisionRequest {
  lineId: string
  targetId?: string | undefined
  reason: string
}

export interface DecisionResult {
  decision: DecisionKind | 'adopt'
  statementLine: StatementLineView
  payment: PaymentRefView | null
  batch?: BatchRefView | null
  reason: string
}

async function lineAndBranch(trx: Kysely<Database>, lineId: string) {
  const line = await findLine(trx, lineId)
  if (!line)
    throw notFound(
      'line_not_found',
      `no statement line ${lineId}`,
      'see `dsh reconcile report <run-id>`',
    )
  const branch = await requireBranchById(trx, line.branch_id)
  return { line, branch }
}

async function payment(
  trx: Kysely<Database>,
  id: string,
  line: LineWithFile,
): Promise<ReconPayment> {
  const p = await paymentForReconciliation(trx, id)
  if (!p || p.branchId !== line.branch_id)
    throw notFound('payment_not_found', `no payment ${id} in the line's branch`)
  return p
}

/**
 * Writes what a person decided about a line, after its effects: the match it makes (if any), the
 * decision (kept across runs) and its `reconcile.*` audit row.
 */
async function record(
  ctx: Ctx,
  trx: Kysely<Database>,
  line: LineWithFile,
  branch: { code: string; tenant_slug: string },
  d: {
    kind: DecisionKind | 'adopt'
    targetId: string | null
    reason: string
    match?: { paymentId?: string; batchId?: string; pass: string; rule: string } | undefined
    request: Record<string, unknown>
  },
): Promise<void> {
  const now = ctx.clock.now().toISOString()
  if (d.match)
    await insertMatches(trx, [
      {
        id: ctx.ids.next('rm'),
        run_id: null,
        branch_id: line.branch_id,
        statement_line_id: line.id,
        payment_id: d.match.paymentId ?? null,
        batch_id: d.match.batchId ?? null,
        pass: d.match.pass,
        rule: d.match.rule,
        created_at: now,
        unmatched_at: null,
        unmatched_reason: null,
      },
    ])
  await insertDecision(trx, {
    id: ctx.ids.next('rdc'),
    branch_id: line.branch_id,
    statement_line_id: line.id,
    target_id: d.targetId,
    decision: d.kind,
    reason: d.reason,
    created_at: now,
    created_by: ctx.actor,
  })
  await audit(ctx, trx, {
    action: `reconcile.${d.kind}`,
    tenant: branch.tenant_slug,
    branch: branch.code,
    target: line.id,
    request: d.request,
  })
}

function requireReason(reason: string) {
  if (!reason || reason.trim() === '')
    throw fieldError('validation', 'reason_required', ['reason'], 'reason: say why (it is audited)')
}

/**
 * A person's decision about a statement line, kept across runs and audited as `reconcile.*`:
 * confirm pairs the line with a payment (the target, else the one the last run proposed);
 * reject refuses a pair for good (it is never proposed again); ignore drops the line from reports.
 */
export async function decide(
  ctx: Ctx,
  kind: DecisionKind,
  req: DecisionRequest,
): Promise<DecisionResult> {
  requireReason(req.reason)
  const store = await ctx.store()
  return store.write(async (trx) => {
    const { line, branch } = await lineAndBranch(trx, req.lineId)
    const now = ctx.clock.now().toISOString()
    const live = await liveMatchesOfLine(trx, line.id)
    let target = req.targetId
    if (!target && kind === 'reject')
      target = live.find((m) => m.payment_id)?.payment_id ?? undefined
    if (!target && kind === 'reject') target = live.find((m) => m.batch_id)?.batch_id ?? undefined
    if (!target && kind !== 'ignore') {
      const last = await latestDiscrepancyOfLine(trx, line.id)
      target = last?.payment_id ?? last?.batch_id ?? undefined
    }
    if (!target && kind !== 'ignore')
      throw fieldError(
        'usage',
        'target_required',
        ['targetId'],
        `name the payment to ${kind} with line ${line.id}`,
      )
    if (target?.startsWith('stl_'))
      return decideBatch(ctx, trx, kind, line, branch, target, req.reason, live)
    const p = target ? await payment(trx, target, line) : null
    if (kind === 'confirm' && p) {
      if (live.length > 0)
        throw conflict(
          'line_matched',
          `line ${line.id} is already matched (${live.map((m) => m.payment_id ?? m.batch_id).join(', ')})`,
          'reject that pair first',
        )
      const other = await liveMatchOfPayment(trx, p.id)
      if (other)
        throw conflict(
          'payment_matched',
          `payment ${p.id} is already matched to line ${other.statement_line_id}`,
          'reject that pair first',
        )
      if (p.status !== 'succeeded')
        throw conflict(
          'payment_not_succeeded',
          `payment ${p.id} is ${p.status}`,
          `use \`dsh reconcile adopt ${line.id} ${p.id}\` for a payment dsh lost track of`,
        )
      if (line.transaction_id && !p.receiptNumber)
        await fillReceipts(ctx, trx, [{ paymentId: p.id, receipt: line.transaction_id }])
    }
    if (kind === 'reject' && p)
      for (const m of live)
        if (m.payment_id === p.id) await unmatch(trx, m.id, now, `rejected: ${req.reason}`)
    if (kind === 'ignore')
      for (const m of live) await unmatch(trx, m.id, now, `ignored: ${req.reason}`)
    await record(ctx, trx, line, branch, {
      kind,
      targetId: p?.id ?? null,
      reason: req.reason,
      match:
        kind === 'confirm' && p
          ? { paymentId: p.id, pass: 'decision', rule: 'confirmed by a person' }
          : undefined,
      request: { payment: p?.id ?? null, reason: req.reason },
    })
    return {
      decision: kind,
      statementLine: lineView(line),
      payment: p ? paymentRefView(p) : null,
      reason: req.reason,
    }
  })
}

/** confirm / reject a pair of a bank credit and a settlement batch. */
async function decideBatch(
  ctx: Ctx,
  trx: Kysely<Database>,
  kind: DecisionKind,
  line: LineWithFile,
  branch: { code: string; tenant_slug: string },
  batchId: string,
  reason: string,
  live: readonly { id: string; batch_id: string | null; payment_id: string | null }[],
): Promise<DecisionResult> {
  const now = ctx.clock.now().toISOString()
  const batch = (await batchesForReconciliation(trx, line.branch_id)).find((b) => b.id === batchId)
  if (!batch)
    throw notFound(
      'batch_not_found',
      `no processing or completed settlement batch, nor cash-up awaiting its deposit or deposited, ${batchId} in the line's branch`,
    )
  if (kind === 'confirm') {
    if (live.length > 0)
      throw conflict('line_matched', `line ${line.id} is already matched`, 'reject that pair first')
    await completeFromStatement(ctx, trx, [
      {
        batchId: batch.id,
        bankRef: line.transaction_id ?? line.reference,
        amountMinor: BigInt(line.amount_minor),
      },
    ])
  }
  if (kind === 'reject')
    for (const m of live)
      if (m.batch_id === batch.id) await unmatch(trx, m.id, now, `rejected: ${reason}`)
  await record(ctx, trx, line, branch, {
    kind,
    targetId: batch.id,
    reason,
    match:
      kind === 'confirm'
        ? { batchId: batch.id, pass: 'decision', rule: 'confirmed by a person' }
        : undefined,
    request: { batch: batch.id, reason },
  })
  return {
    decision: kind,
    statementLine: lineView(line),
    payment: null,
    batch: batchRefView(batch),
    reason,
  }
}

/**
 * Adopts a payment dsh lost track of (a lost callback: pending, unknown or needs_review) for a
 * statement line: the payment becomes succeeded through transition() with the line's receipt,
 * and the pair is matched. A failed or cancelled payment cannot move (exit 5).
 */
export async function adopt(
  ctx: Ctx,
  req: { lineId: string; paymentId: string; reason?: string | undefined },
): Promise<DecisionResult> {
  const store = await ctx.store()
  return store.write(async (trx) => {
    const { line, branch } = await lineAndBranch(trx, req.lineId)
    if (line.kind !== 'mpesa' || BigInt(line.amount_minor) <= 0n)
      throw conflict('not_adoptable', `line ${line.id} is not an M-Pesa credit`)
    const live = await liveMatchesOfLine(trx, line.id)
    if (live.length > 0)
      throw conflict('line_matched', `line ${line.id} is already matched`, 'reject that pair first')
    const p = await payment(trx, req.paymentId, line)
    assertAdoptable(p)
    if (p.currency !== line.currency || p.amountMinor !== BigInt(line.amount_minor))
      throw conflict(
        'amount_differs',
        `payment ${p.id} is ${p.currency} ${p.amountMinor} minor units but the line is ${line.currency} ${line.amount_minor}`,
      )
    const reason = req.reason?.trim() || `adopted from statement line ${line.id}`
    const moved = await adoptPayment(ctx, trx, branch, p.id, line.transaction_id, reason)
    await record(ctx, trx, line, branch, {
      kind: 'adopt',
      targetId: p.id,
      reason,
      match: { paymentId: p.id, pass: 'adopt', rule: `adopted a ${p.status} payment` },
      request: { payment: p.id, from: p.status, receipt: line.transaction_id, reason },
    })
    return {
      decision: 'adopt',
      statementLine: lineView(line),
      payment: paymentRefView(moved),
      reason,
    }
  })
}
