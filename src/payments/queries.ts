import type { Ctx } from '../context.js'
import { notFound } from '../core/errors.js'
import { GATEWAY_TYPES } from '../core/gateways/types.js'
import { windowPages } from '../core/list.js'
import { PAYMENT_STATUSES } from '../core/payments/states.js'
import { checkChoice } from '../core/validate.js'
import { findBranchById } from '../tenants/branches.js'
import { type ListingRequest, listingScope } from '../tenants/listing.js'
import {
  findPayment,
  listAttempts,
  listPaymentEvents,
  listPayments,
  type PaymentRow,
} from './payments-store.js'
import { type AttemptView, attemptView, eventView, type PaymentView, paymentView } from './view.js'

export interface ListFlags extends ListingRequest {
  status?: string | undefined
  gateway?: string | undefined
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
  const { window, branch, zone, since, until, codes } = await listingScope(ctx, f)
  const store = await ctx.store()
  const filter = { branchId: branch?.id, status: f.status, gateway: f.gateway, since, until }
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
