import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { listBranches } from '../tenants/branches.js'
import {
  countersAndFullCount,
  type HourRow,
  type InboxRow,
  rebuildCounterTables,
  type TotalsRow,
} from './counters-store.js'

/*
 * The counters behind `/metrics`, `dsh health` and `dsh report` (payment_counts,
 * payment_hour_counts, inbox_counts) are kept by the store's triggers in the same transaction as
 * every payment or inbox move. `dsh doctor` checks them against a full count; a mismatch means
 * something wrote around the triggers (or a restore of a hand-edited copy), and
 * `dsh doctor --repair-counters` rebuilds them.
 */

export interface CounterCheck {
  ok: boolean
  /** Counter keys compared (non-zero on either side). */
  keys: number
  mismatches: string[]
}

/**
 * Replaces every counter with a full count, in one write transaction (moves made meanwhile wait).
 * For a store whose rows were written around the triggers, e.g. a bulk SQL load.
 */
export async function rebuildCounters(ctx: Ctx): Promise<void> {
  const store = await ctx.store()
  await store.write((trx) => rebuildCounterTables(trx))
}

/** `dsh doctor --repair-counters`: rebuilds the counters and audits it, in one transaction. */
export async function repairCounters(ctx: Ctx, found: number): Promise<void> {
  const store = await ctx.store()
  await store.write(async (trx) => {
    await rebuildCounterTables(trx)
    await audit(ctx, trx, {
      action: 'counters.rebuild',
      request: { mismatches: found },
    })
  })
}

type Figures = Record<string, bigint>

function compare<R>(
  counters: readonly R[],
  full: readonly R[],
  key: (r: R) => string,
  figures: (r: R) => Figures,
  name: (r: R) => string,
  out: string[],
): number {
  const want = new Map(full.map((r) => [key(r), r]))
  const have = new Map(counters.map((r) => [key(r), r]))
  const zero = (f: Figures) => Object.values(f).every((v) => v === 0n)
  const text = (f: Figures) =>
    Object.entries(f)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')
  let keys = 0
  for (const k of new Set([...want.keys(), ...have.keys()])) {
    const w = want.get(k)
    const h = have.get(k)
    const wf = w ? figures(w) : null
    const hf = h ? figures(h) : null
    if ((!wf || zero(wf)) && (!hf || zero(hf))) continue
    keys++
    const fields = Object.keys(wf ?? hf ?? {})
    if (wf && hf && fields.every((f) => wf[f] === hf[f])) continue
    const z = Object.fromEntries(fields.map((f) => [f, 0n]))
    out.push(
      `${name((w ?? h)!)}: the counter says ${text(hf ?? z)}; a full count gives ${text(wf ?? z)}`,
    )
  }
  return keys
}

/** Compares every counter with a full count of `payments` and `callback_inbox` (slow is fine). */
export async function checkCounters(ctx: Ctx): Promise<CounterCheck> {
  const store = await ctx.store()
  const codes = new Map((await listBranches(store.db)).map((b) => [b.id, b.code]))
  const branch = (id: string) => codes.get(id) ?? id
  const { counters, full, bulkGuards } = await countersAndFullCount(store.db)
  const out: string[] = []
  if (bulkGuards > 0)
    out.push(
      `payment_counts_bulk holds ${bulkGuards} row${bulkGuards === 1 ? '' : 's'}: the payment counters stand aside for unsettled → batched moves (a settlement run's guard was committed)`,
    )
  let keys = compare<TotalsRow>(
    counters.totals,
    full.totals,
    (r) =>
      [r.tenant_id, r.branch_id, r.gateway, r.status, r.settlement_status, r.currency].join(
        '\u0000',
      ),
    (r) => ({ count: r.count, amount: r.amount_minor }),
    (r) =>
      `payment counter of ${branch(r.branch_id)} ${r.gateway || 'no gateway'} ${r.status} ${r.settlement_status} ${r.currency}`,
    out,
  )
  keys += compare<HourRow>(
    counters.hours,
    full.hours,
    (r) =>
      [r.tenant_id, r.branch_id, r.hour, r.status, r.method, r.gateway, r.currency].join('\u0000'),
    (r) => ({
      count: r.count,
      amount: r.amount_minor,
      completed: r.completed_count,
      ms: r.processing_ms,
    }),
    (r) =>
      `hourly payment counter of ${branch(r.branch_id)} ${r.hour}h ${r.status} ${r.method} ${r.gateway || 'no gateway'} ${r.currency}`,
    out,
  )
  keys += compare<InboxRow>(
    counters.inbox,
    full.inbox,
    (r) => `${r.gateway}\u0000${r.status}`,
    (r) => ({ count: r.count, duplicates: r.duplicates }),
    (r) => `inbox counter of ${r.gateway} ${r.status}`,
    out,
  )
  return { ok: out.length === 0, keys, mismatches: out }
}
