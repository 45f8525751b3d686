import type { Ctx } from '../context.js'
import { allItems, batchesForCheck, paymentsInSettlement } from './batches-store.js'
import { checkCash } from './doctor-cash.js'
import { checkOutbox } from './outbox.js'

export interface DoctorReport {
  ok: boolean
  batches: number
  items: number
  violations: string[]
}

/** Statuses whose members are held (a transfer's, then a cash-up's): only failed and cancelled release. */
export const LIVE = new Set(['pending', 'processing', 'completed', 'awaiting_deposit', 'deposited'])
/** Statuses whose payments are settled: the transfer completed, or the cash deposited. */
const PAID = new Set(['completed', 'deposited'])

/**
 * `dsh doctor`: the settlement invariants, checked over the whole store. Each violation names
 * the batch or payment; the first one is the command's error.
 */
export async function doctor(
  ctx: Ctx,
): Promise<
  DoctorReport & { /** Entries in $DSH_HOME/outbox (void/ aside). */ outboxFiles: number }
> {
  const store = await ctx.store()
  const batches = await batchesForCheck(store.db)
  const items = await allItems(store.db)
  const payments = await paymentsInSettlement(store.db)
  const report = checkSettlement(batches, items, payments)
  // The cash checks are their own (cash is banked, never transferred).
  report.violations.push(...checkCash(batches, items, payments))
  // The outbox holds only what is to be paid (outbox.ts).
  const outbox = await checkOutbox(ctx)
  report.violations.push(...outbox.findings)
  return { ...report, ok: report.violations.length === 0, outboxFiles: outbox.files }
}

type B = Awaited<ReturnType<typeof batchesForCheck>>[number]
type I = Awaited<ReturnType<typeof allItems>>[number]
type P = {
  id: string
  settlement_status: string
  settlement_batch_id: string | null
  amount_minor: unknown
  fee_minor: unknown
  gateway?: string | null
}

const big = (v: unknown) => BigInt((v ?? 0) as string)

/** The checks themselves, over rows (also used by the property tests). */
export function checkSettlement(
  batches: readonly B[],
  items: readonly I[],
  payments: readonly P[],
  /** Every payment a live item names, when `payments` holds only the settled/batched ones. */
  more: readonly P[] = [],
): DoctorReport {
  const v: string[] = []
  const byBatch = new Map<string, I[]>()
  for (const i of items) byBatch.set(i.batch_id, [...(byBatch.get(i.batch_id) ?? []), i])
  const batchById = new Map(batches.map((b) => [b.id, b]))
  const paymentById = new Map([...more, ...payments].map((p) => [p.id, p]))
  const liveOf = new Map<string, string>()
  for (const b of batches) {
    const live = LIVE.has(b.status)
    const members = (byBatch.get(b.id) ?? []).filter((i) => !live || i.released_at === null)
    const gross = members.reduce((s, i) => s + big(i.amount_minor), 0n)
    const fees = members.reduce((s, i) => s + big(i.fee_minor), 0n)
    const conv = members.reduce((s, i) => s + big(i.conversion_fee_minor), 0n)
    const stl = big(b.settlement_fee_minor)
    const name = `batch ${b.id} (${b.reference})`
    if (Number(b.payment_count) !== members.length)
      v.push(`${name}: payment count ${b.payment_count} but ${members.length} member(s)`)
    if (big(b.gross_minor) !== gross)
      v.push(`${name}: gross ${b.gross_minor} but its members sum to ${gross}`)
    if (big(b.fees_minor) !== fees + stl)
      v.push(
        `${name}: fees ${b.fees_minor} but member fees ${fees} + settlement fee ${stl} = ${fees + stl}`,
      )
    if (big(b.transaction_fees_minor) + big(b.conversion_fees_minor) !== fees)
      v.push(`${name}: transaction + conversion fees differ from the member fees ${fees}`)
    if (big(b.conversion_fees_minor) !== conv)
      v.push(`${name}: conversion fees ${b.conversion_fees_minor} but members sum to ${conv}`)
    if (big(b.net_minor) !== big(b.gross_minor) - big(b.fees_minor))
      v.push(`${name}: net ${b.net_minor} is not gross − fees`)
    // A deposited cash-up whose deposit differed was accepted by a person (reconcile confirm):
    // the banked amount stays recorded, it is no open question.
    const accepted = b.kind === 'cash_deposit' && b.status === 'deposited'
    if (!accepted && b.bank_amount_minor !== null && big(b.bank_amount_minor) !== big(b.net_minor))
      v.push(
        `${name}: the bank confirmed ${b.bank_amount_minor} but the net is ${b.net_minor}; it stays ${b.status}`,
      )
    if (live) {
      for (const i of members) {
        const other = liveOf.get(i.payment_id)
        if (other) v.push(`payment ${i.payment_id} is in two live batches: ${other} and ${b.id}`)
        liveOf.set(i.payment_id, b.id)
        const p = paymentById.get(i.payment_id)
        if (!p) {
          v.push(`${name}: member ${i.payment_id} is not batched or settled (or does not exist)`)
          continue
        }
        if (p.settlement_batch_id !== b.id)
          v.push(
            `${name} lists payment ${p.id}, which points at ${p.settlement_batch_id ?? 'no batch'}`,
          )
        const want = PAID.has(b.status) ? 'settled' : 'batched'
        if (p.settlement_status !== want)
          v.push(
            `payment ${p.id} is ${p.settlement_status} but its batch ${b.id} is ${b.status} (want ${want})`,
          )
        if (big(p.amount_minor) !== big(i.amount_minor))
          v.push(
            `${name}: member ${p.id} amount ${i.amount_minor} differs from the payment's ${p.amount_minor}`,
          )
        // A cash-up's members carry no fee (checkCash); a transfer's carry the recorded one.
        if (b.kind === 'cash_deposit') continue
        if (p.fee_minor === null || big(p.fee_minor) !== big(i.fee_minor))
          v.push(
            `${name}: member ${p.id} fee ${i.fee_minor} differs from the payment's recorded fee ${p.fee_minor ?? 'none'}`,
          )
      }
    }
  }
  for (const p of payments) {
    if (p.settlement_batch_id === null) {
      if (p.settlement_status !== 'unsettled')
        v.push(`payment ${p.id} is ${p.settlement_status} but in no batch`)
      continue
    }
    const b = batchById.get(p.settlement_batch_id)
    if (!b) {
      v.push(`payment ${p.id} points at batch ${p.settlement_batch_id}, which does not exist`)
      continue
    }
    if (!LIVE.has(b.status)) v.push(`payment ${p.id} points at batch ${b.id}, which is ${b.status}`)
    else if (liveOf.get(p.id) !== b.id)
      v.push(`payment ${p.id} points at batch ${b.id}, which does not list it`)
  }
  return { ok: v.length === 0, batches: batches.length, items: items.length, violations: v }
}
