import type { Ctx } from '../context.js'
import { fieldError, notFound } from '../core/errors.js'
import { GATEWAY_TYPES } from '../core/gateways/types.js'
import { cutPage, LIST_PAGE_SIZE, parseListWindow } from '../core/list.js'
import { isPaymentStatus, PAYMENT_STATUSES } from '../core/payments/states.js'
import { parseInstantRange } from '../core/time.js'
import { parseSlug } from '../core/validate.js'
import { findBranchById, listBranches, requireBranch } from '../tenants/branches.js'
import { listingZone } from '../tenants/tenants.js'
import {
  findPayment,
  listAttempts,
  listPaymentEvents,
  listPayments,
  type PaymentRow,
} from './payments-store.js'
import { type AttemptView, attemptView, eventView, type PaymentView, paymentView } from './view.js'

export interface ListFlags {
  branch?: string | undefined
  status?: string | undefined
  since?: string | undefined
  until?: string | undefined
  gateway?: string | undefined
  limit?: string | undefined
  all?: boolean | undefined
}

export interface PaymentsListing {
  /** Newest first; every row with `all` (paged underneath, so memory stays constant). */
  payments: AsyncIterable<PaymentView[]>
  /** The time zone of human times and of the day that `since`/`until` YYYY-MM-DD name. */
  zone: string
}

/**
 * `dsh payments list`: newest first, the newest 100 unless `limit` or `all`; one row more than the
 * limit is fetched to tell whether more match (the table is never counted). `since` is included,
 * `until` excluded (see core/time.ts).
 */
export async function paymentsList(
  ctx: Ctx,
  f: ListFlags,
): Promise<PaymentsListing & { more: () => boolean }> {
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
  const window = parseListWindow(f)
  const code = f.branch !== undefined ? parseSlug(f.branch, 'branch code') : undefined
  const store = await ctx.store()
  const branch = code ? await requireBranch(store.db, code) : undefined
  const zone = await listingZone(store.db, { branch })
  const range = parseInstantRange(f, zone, ctx.clock.now())
  const codes = new Map((await listBranches(store.db)).map((b) => [b.id, b.code]))
  const filter = {
    branchId: branch?.id,
    status: f.status,
    gateway: f.gateway,
    since: range.since?.toISOString(),
    until: range.until?.toISOString(),
  }
  const toView = (r: PaymentRow) => paymentView(r, codes.get(r.branch_id) ?? r.branch_id)
  let more = false
  async function* pages(): AsyncGenerator<PaymentView[]> {
    if (window.limit !== undefined) {
      const page = cutPage(
        await listPayments(store.db, { ...filter, limit: window.limit + 1 }),
        window.limit,
      )
      more = page.more
      yield page.rows.map(toView)
      return
    }
    let before: { createdAt: string; id: string } | undefined
    for (;;) {
      const rows = await listPayments(store.db, { ...filter, limit: LIST_PAGE_SIZE, before })
      if (rows.length > 0) yield rows.map(toView)
      const last = rows[rows.length - 1]
      if (!last || rows.length < LIST_PAGE_SIZE) return
      before = { createdAt: last.created_at, id: last.id }
    }
  }
  return { payments: pages(), zone, more: () => more }
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
