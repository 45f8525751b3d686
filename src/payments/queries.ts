import { parseAuditFilter } from '../audit/filter.js'
import type { Ctx } from '../context.js'
import { fieldError, notFound } from '../core/errors.js'
import { GATEWAY_TYPES } from '../core/gateways/types.js'
import { isPaymentStatus, PAYMENT_STATUSES } from '../core/payments/states.js'
import { parseSlug } from '../core/validate.js'
import { findBranchById, listBranches, requireBranch } from '../tenants/branches.js'
import { findPayment, listAttempts, listPaymentEvents, listPayments } from './payments-store.js'
import { type AttemptView, attemptView, eventView, type PaymentView, paymentView } from './view.js'

export interface ListFlags {
  branch?: string | undefined
  status?: string | undefined
  since?: string | undefined
  gateway?: string | undefined
  limit?: string | undefined
}

export async function paymentsList(ctx: Ctx, f: ListFlags): Promise<PaymentView[]> {
  if (f.status && !isPaymentStatus(f.status))
    throw fieldError(
      'validation',
      'invalid_status',
      ['status'],
      `status "${f.status}" is not one of ${PAYMENT_STATUSES.join(', ')}`,
    )
  if (f.gateway && !(GATEWAY_TYPES as readonly string[]).includes(f.gateway))
    throw fieldError(
      'validation',
      'invalid_gateway',
      ['gateway'],
      `gateway "${f.gateway}" is not one of ${GATEWAY_TYPES.join(', ')}`,
    )
  const common = parseAuditFilter({ since: f.since, limit: f.limit })
  const store = await ctx.store()
  const branch = f.branch
    ? await requireBranch(store.db, parseSlug(f.branch, 'branch code'))
    : undefined
  const rows = await listPayments(store.db, {
    branchId: branch?.id,
    status: f.status,
    gateway: f.gateway,
    since: common.since,
    limit: common.limit,
  })
  const codes = new Map((await listBranches(store.db)).map((b) => [b.id, b.code]))
  return rows.map((r) => paymentView(r, codes.get(r.branch_id) ?? r.branch_id))
}

export interface PaymentDetail extends PaymentView {
  attempts: AttemptView[]
  timeline: ReturnType<typeof eventView>[]
}

export async function paymentShow(ctx: Ctx, id: string): Promise<PaymentDetail> {
  const store = await ctx.store()
  const p = await findPayment(store.db, id.trim())
  if (!p) throw notFound('payment_not_found', `no payment "${id}"`, 'see `dsh payments list`')
  const branch = await findBranchById(store.db, p.branch_id)
  return {
    ...paymentView(p, branch?.code ?? p.branch_id),
    attempts: (await listAttempts(store.db, p.id)).map(attemptView),
    timeline: (await listPaymentEvents(store.db, p.id)).map(eventView),
  }
}
