import type { Kysely } from 'kysely'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { fieldError } from '../core/errors.js'
import { currency } from '../core/money/currency.js'
import { type FxRate, formatFxRate, parseFxRate } from '../core/money/fx.js'
import { DEFAULT_TIMEZONE, dayIn, formatDay, parseDay } from '../core/time.js'
import type { Database } from '../store/schema.js'
import { findFxRate, listFxRates, putFxRate } from './rates-store.js'

export interface FxRateView {
  from: string
  to: string
  /** Units of `to` per unit of `from`, the exact decimal given. */
  rate: string
  asOf: string
  createdAt: string
  createdBy: string
}

/** `dsh rates set <from> <to> <rate> [--as-of]`: exact decimal rates, audited. */
export async function setRate(
  ctx: Ctx,
  input: { from: string; to: string; rate: string; asOf?: string | undefined },
): Promise<FxRateView> {
  const from = currency(input.from).code
  const to = currency(input.to).code
  if (from === to)
    throw fieldError('validation', 'same_currency', ['to'], `to must differ from from (${from})`)
  const rate = formatFxRate(parseFxRate(input.rate))
  const now = ctx.clock.now()
  const asOf = formatDay(
    input.asOf === undefined
      ? dayIn(DEFAULT_TIMEZONE, now)
      : parseDay(input.asOf, 'asOf', DEFAULT_TIMEZONE, now),
  )
  const row = {
    from_currency: from,
    to_currency: to,
    as_of: asOf,
    rate,
    created_at: now.toISOString(),
    created_by: ctx.actor,
  }
  const store = await ctx.store()
  await store.write(async (trx) => {
    await putFxRate(trx, row)
    await audit(ctx, trx, { action: 'rates.set', target: `${from}/${to}`, request: { rate, asOf } })
  })
  return view(row)
}

export async function listRates(ctx: Ctx): Promise<FxRateView[]> {
  const store = await ctx.store()
  return (await listFxRates(store.db)).map(view)
}

/** The rate in force on a day, or null when none was set on or before it. */
export async function rateOn(
  ctx: Ctx,
  from: string,
  to: string,
  day: string,
): Promise<{ rate: FxRate; text: string; asOf: string } | null> {
  const store = await ctx.store()
  const r = await findFxRate(store.db, from, to, day)
  return r ? { rate: parseFxRate(r.rate), text: r.rate, asOf: r.as_of } : null
}

/**
 * The rate of `from` → `to` in force on `day` (the newest set on or before it), read with `db`
 * (a caller's transaction), or null. Only the direction asked for: a rate is never inverted.
 */
export async function rateIn(
  db: Kysely<Database>,
  from: string,
  to: string,
  day: string,
): Promise<{ rate: FxRate; text: string; asOf: string } | null> {
  const r = await findFxRate(db, from, to, day)
  return r ? { rate: parseFxRate(r.rate), text: r.rate, asOf: r.as_of } : null
}

const view = (r: {
  from_currency: string
  to_currency: string
  rate: string
  as_of: string
  created_at: string
  created_by: string
}): FxRateView => ({
  from: r.from_currency,
  to: r.to_currency,
  rate: r.rate,
  asOf: r.as_of,
  createdAt: r.created_at,
  createdBy: r.created_by,
})
