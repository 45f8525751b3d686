import type { Ctx } from '../context.js'
import { notFound } from '../core/errors.js'
import { GATEWAY_TYPES } from '../core/gateways/types.js'
import { parseListWindow, windowPages } from '../core/list.js'
import { PAYMENT_STATUSES } from '../core/payments/states.js'
import { parseInstantRange } from '../core/time.js'
import { checkChoice, parseSlug } from '../core/validate.js'
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
  checkChoice('status', f.status, PAYMENT_STATUSES)
  checkChoice('gateway', f.gateway, GATEWAY_TYPES)
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
  const { pages, more } = windowPages(
    window,
    (limit, last?: PaymentRow) => listPayments(store.db, { ...filter, limit, last }),
    toView,
  )
  return { payments: pages, zone, more }
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
