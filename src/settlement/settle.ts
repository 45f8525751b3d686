import type { Kysely } from 'kysely'
import type { Ctx } from '../context.js'
import { configError, usageError, validationError } from '../core/errors.js'
import { noFees } from '../core/gateways/fees.js'
import { GATEWAY_TYPES, isGatewayType } from '../core/gateways/types.js'
import { toDecimalString } from '../core/money/format.js'
import { convert } from '../core/money/fx.js'
import { cutoffOf, localDate, parseRunDate, scheduledBefore } from '../core/schedule.js'
import { branchGateways } from '../gateway-config/in-force.js'
import { feeColumns, feeDay } from '../payments/fees.js'
import { rateIn } from '../reports/rates.js'
import { isUniqueViolation } from '../store/errors.js'
import type { Database } from '../store/schema.js'
import type { BranchWithTenant } from '../tenants/branches.js'
import { requireBranch } from '../tenants/branches.js'
import { scheduleOf } from './account-fields.js'
import {
  type AccountWithBranch,
  accountsWithBranch,
  type BatchRow,
  type BatchTarget,
  batchPayments,
  type Eligible,
  eligibleTotals,
  findBatch,
  type GatewayTotals,
  insertBatch,
  listBatches,
  lockAccount,
  paymentsAwaitingFeeRate,
  paymentsWithoutFee,
  recordRun,
  setPaymentFee,
  updateBatch,
} from './batches-store.js'
import { cashUpRow, retireLegacyCash } from './cash-ups.js'
import { findCollectionAccount } from './collection-accounts-store.js'
import { voidLeftovers } from './outbox.js'
import { auditBatch, pendingBatch, sendBatch } from './transfer.js'
import {
  type BatchView,
  batchFigures,
  batchView,
  CASH_DEPOSIT,
  CASH_GATEWAY,
  cashUpFigures,
  TRANSFER,
} from './view.js'

export interface SettleRequest {
  branch?: string | undefined
  all?: boolean | undefined
  gateway?: string | undefined
  /** YYYY-MM-DD in the branch's time zone (default today there). */
  date?: string | undefined
  dryRun?: boolean | undefined
  /** Only this settlement account (the scheduler's runs). */
  accountId?: string | undefined
  /** Record the run for the scheduler's catch-up (default true). */
  recordRun?: boolean | undefined
}

export interface CarryView {
  branch: string
  gateway: string
  currency: string
  reason: 'below_minimum' | 'no_settlement_account'
  paymentCount: number
  grossMinor: bigint
  gross: string
  netMinor: bigint
  net: string
  minAmountMinor: bigint | null
  minAmount: string | null
}

export interface SettleReport {
  date: string | null
  cutoffAt: string | null
  dryRun: boolean
  nothingToDo: boolean
  batches: BatchView[]
  sent: string[]
  /** The bank files this run wrote into the outbox. */
  files: string[]
  /** Files of cancelled or failed batches that were still in the outbox, now in outbox/void/. */
  voidedFiles: string[]
  carriedOver: CarryView[]
}

export interface SendFailure {
  batch: string
  reference: string
  message: string
}

export interface SettleOutcome {
  report: SettleReport
  /** Transfers that could not be sent (the batch stays pending; a rerun resends it). */
  failures: SendFailure[]
}

class DryRun {
  constructor(readonly value: AccountRun[]) {}
}

interface AccountRun {
  batches: BatchRow[]
  carried: CarryView[]
}

/** One account's part of a run, planned before its payments move. */
interface AccountPlan extends AccountRun {
  account: AccountWithBranch
  branch: BranchWithTenant
  periodEnd: string
  targets: BatchTarget[]
}

/** How many transfers a run sends at once. */
const SEND_CONCURRENCY = 4

/**
 * `fn` over `items`, at most `limit` at a time; the results in the items' order. After an error
 * no new item starts; the error is thrown once the ones under way have finished.
 */
async function inTurns<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  let failed = false
  const worker = async () => {
    while (next < items.length && !failed) {
      const i = next++
      try {
        out[i] = await fn(items[i] as T)
      } catch (err) {
        failed = true
        throw err
      }
    }
  }
  const done = await Promise.allSettled(
    Array.from({ length: Math.min(limit, items.length) }, worker),
  )
  const error = done.find((d) => d.status === 'rejected')
  if (error) throw (error as PromiseRejectedResult).reason
  return out
}

const dec = (minor: bigint, currency: string) => toDecimalString({ minor, currency })

/** The run's window for one account: cut-off, period start, and how late a payment may be. */
export function runWindow(a: AccountWithBranch, date: string, now: Date) {
  const schedule = scheduleOf(a)
  const cutoff = cutoffOf(schedule, a.branch_timezone, date)
  const periodStart = scheduledBefore(schedule, a.branch_timezone, cutoff)
  const hold = new Date(now.getTime() - a.holding_hours * 3_600_000)
  const upTo = cutoff.getTime() < hold.getTime() ? cutoff : hold
  return { cutoff, periodStart, upTo }
}

/**
 * `dsh settle`: per settlement account (so per currency) and gateway, batches the branch's
 * succeeded, unsettled payments up to the cut-off and the holding period, exactly once (the
 * database refuses a second live batch for the same period and a payment in two live batches),
 * then sends every pending transfer of those accounts. Cash becomes a cash-up the branch banks:
 * made in the same run, never sent.
 */
export async function settle(ctx: Ctx, req: SettleRequest): Promise<SettleOutcome> {
  if (!req.accountId && Boolean(req.branch) === Boolean(req.all))
    throw usageError(
      'branch_or_all',
      'give exactly one of branch or all',
      'e.g. --branch westlands',
    )
  if (req.gateway !== undefined && !isGatewayType(req.gateway))
    throw validationError(
      'unknown_gateway_type',
      `gateway "${req.gateway}" is not one of ${GATEWAY_TYPES.join(', ')}`,
    )
  const date = req.date === undefined ? undefined : parseRunDate(req.date)
  const store = await ctx.store()
  const now = ctx.clock.now()
  let accounts: AccountWithBranch[]
  let branches: BranchWithTenant[] = []
  if (req.branch) {
    const b = await requireBranch(store.db, req.branch)
    branches = [b]
    accounts = await accountsWithBranch(store.db, { branchId: b.id })
    if (accounts.length === 0)
      throw configError(
        'no_settlement_account',
        `branch ${b.code} has no settlement account`,
        `set one with \`dsh branch settlement-account ${b.code} --account-name … --account-number … --bank-name …\``,
      )
  } else {
    accounts = await accountsWithBranch(store.db, { autoOnly: !req.accountId })
    if (req.accountId) accounts = accounts.filter((a) => a.id === req.accountId)
  }
  const dryRun = req.dryRun === true
  // Before anything is written: the outbox is checked (a symlink is refused) and files of
  // cancelled or failed batches that a crash left there move to outbox/void/.
  const voidedFiles = dryRun ? [] : await voidLeftovers(ctx)
  const created: BatchRow[] = []
  const carried: CarryView[] = []
  const dates = new Set<string>()
  const cutoffs = new Set<string>()
  const branchCache = new Map(branches.map((b) => [b.id, b]))
  const branchOf = async (a: AccountWithBranch) => {
    let b = branchCache.get(a.branch_id)
    if (!b) {
      b = await requireBranch(store.db, a.branch_code)
      branchCache.set(a.branch_id, b)
    }
    return b
  }
  const plans: {
    a: AccountWithBranch
    branch: BranchWithTenant
    w: ReturnType<typeof runWindow>
  }[] = []
  for (const a of accounts) {
    const runDate = date ?? localDate(now, a.branch_timezone)
    dates.add(runDate)
    const w = runWindow(a, runDate, now)
    cutoffs.add(w.cutoff.toISOString())
    plans.push({ a, branch: await branchOf(a), w })
  }
  // One transaction for the whole run: every account's batches commit together (a payment's
  // page is written once however many branches share it), or none does.
  let runs: AccountRun[] = []
  if (plans.length > 0) {
    try {
      runs = await store.write(async (trx) => {
        const out: AccountPlan[] = []
        for (const p of plans)
          out.push(await planAccount(ctx, trx, p.a, p.branch, p.w, { gateway: req.gateway, now }))
        if (dryRun) throw new DryRun(out)
        await fillBatches(ctx, trx, out, { record: req.recordRun !== false, now })
        return out
      })
    } catch (err) {
      if (err instanceof DryRun) runs = err.value
      // A racing process made these batches first: for this run there is nothing to do.
      else if (isUniqueViolation(err)) runs = []
      else throw err
    }
  }
  for (const r of runs) {
    created.push(...r.batches)
    carried.push(...r.carried)
  }
  // Succeeded payments in a currency no settlement account takes: reported, never an error.
  if (!req.accountId)
    carried.push(...(await withoutAccount(store.db, accounts, { date, now, gateway: req.gateway })))
  const { sent, files, failures } = dryRun
    ? { sent: [], files: [], failures: [] }
    : await sendTransfers(ctx, accounts, created, req.gateway)
  const code = new Map(accounts.map((a) => [a.branch_id, a.branch_code]))
  const views: BatchView[] = []
  for (const b of created) {
    const row = dryRun ? b : ((await findBatch(store.db, b.id)) ?? b)
    views.push(batchView(row, code.get(b.branch_id) ?? ''))
  }
  return {
    report: {
      date: dates.size === 1 ? ([...dates][0] as string) : (date ?? null),
      cutoffAt: cutoffs.size === 1 ? ([...cutoffs][0] as string) : null,
      dryRun,
      nothingToDo: created.length === 0 && sent.length === 0,
      batches: views,
      sent,
      files,
      voidedFiles,
      carriedOver: carried,
    },
    failures,
  }
}

/**
 * A fee recorded without its flat part (no rate then) gets it once a rate for its day exists:
 * the flat fee as configured then, converted at that rate, added to the recorded fee.
 */
async function fillFlatFees(trx: Kysely<Database>, e: Eligible): Promise<boolean> {
  let filled = false
  for (const p of await paymentsAwaitingFeeRate(trx, e)) {
    const from = p.fee_flat_source_currency as string
    const day = p.fee_fx_as_of as string
    const r = await rateIn(trx, from, p.currency, day)
    if (!r) continue
    const flat = convert(
      { minor: BigInt(p.fee_flat_source_minor ?? 0), currency: from },
      p.currency,
      r.rate,
    )
    await setPaymentFee(trx, p.id, {
      fee_minor: BigInt(p.fee_minor ?? 0) + flat.minor,
      fee_flat_minor: flat.minor,
      fee_fx_rate: r.text,
      fee_fx_as_of: r.asOf,
    })
    filled = true
  }
  return filled
}

/**
 * Per branch, its succeeded payments in a currency none of its settlement accounts takes: carried
 * over as `no_settlement_account` (cash at its full amount: it owes no fee).
 */
async function withoutAccount(
  db: Kysely<Database>,
  accounts: readonly AccountWithBranch[],
  o: { date: string | undefined; now: Date; gateway: string | undefined },
): Promise<CarryView[]> {
  const out: CarryView[] = []
  const byBranch = new Map<string, AccountWithBranch[]>()
  for (const a of accounts) byBranch.set(a.branch_id, [...(byBranch.get(a.branch_id) ?? []), a])
  for (const [branchId, list] of byBranch) {
    const first = list[0] as AccountWithBranch
    const w = runWindow(first, o.date ?? localDate(o.now, first.branch_timezone), o.now)
    const totals = await eligibleTotals(db, {
      branchId,
      currency: first.currency,
      upTo: w.upTo.toISOString(),
      gateway: o.gateway,
      notCurrencies: list.map((a) => a.currency),
    })
    for (const t of totals) {
      const net = t.gateway === CASH_GATEWAY ? t.gross : t.gross - t.fees
      out.push({
        branch: first.branch_code,
        gateway: t.gateway,
        currency: t.currency,
        reason: 'no_settlement_account',
        paymentCount: t.count,
        grossMinor: t.gross,
        gross: dec(t.gross, t.currency),
        netMinor: net,
        net: dec(net, t.currency),
        minAmountMinor: null,
        minAmount: null,
      })
    }
  }
  return out
}

/**
 * Sends every pending transfer of the accounts (this run's and earlier ones'), a few at a time,
 * and names the bank files written: transfers only — a cash-up is never sent, nor a cash
 * transfer made before cash-ups.
 */
async function sendTransfers(
  ctx: Ctx,
  accounts: readonly AccountWithBranch[],
  created: readonly BatchRow[],
  gateway: string | undefined,
): Promise<{ sent: string[]; files: string[]; failures: SendFailure[] }> {
  const sent: string[] = []
  const files: string[] = []
  const failures: SendFailure[] = []
  if (accounts.length === 0) return { sent, files, failures }
  const store = await ctx.store()
  const pending = (
    await listBatches(store.db, {
      status: 'pending',
      kind: TRANSFER,
      accountIds: accounts.map((a) => a.id),
    })
  ).filter((b) => b.gateway !== CASH_GATEWAY && (!gateway || b.gateway === gateway))
  pending.reverse() // oldest first; this run's own in the order it made them (ids made in the
  // same millisecond do not sort by creation)
  const made = new Map(created.map((b, i) => [b.id, i]))
  pending.sort((x, y) => (made.get(x.id) ?? -1) - (made.get(y.id) ?? -1))
  // A few at a time: their database steps take turns, their files and bank calls overlap.
  const results = await inTurns(pending, SEND_CONCURRENCY, (b) => sendBatch(ctx, b.id))
  pending.forEach((b, i) => {
    const r = results[i] as Awaited<ReturnType<typeof sendBatch>>
    if (r.sent) {
      sent.push(b.id)
      files.push(...(r.files ?? []))
    } else if (r.failure) failures.push({ batch: b.id, reference: b.reference, message: r.failure })
  })
  return { sent, files, failures }
}

/** One gateway's totals as a run plans them: a transfer batch, or the cash-up. */
interface Planned {
  kind: 'transfer' | 'cash_deposit'
  gateway: string
  figures: ReturnType<typeof batchFigures>
}

/**
 * One account's part of a run, under its lock, in named steps: legacy cash transfers are retired,
 * missing fees recorded, the totals split into what carries over, the cash-up and the transfer
 * batches, and their rows inserted (their payments move afterwards, with every other account's,
 * in `fillBatches`).
 */
async function planAccount(
  ctx: Ctx,
  trx: Kysely<Database>,
  account: AccountWithBranch,
  branch: BranchWithTenant,
  w: { cutoff: Date; periodStart: Date; upTo: Date },
  opts: { gateway: string | undefined; now: Date },
): Promise<AccountPlan> {
  const a = (await lockAccount(trx, account.id)) ?? account
  const nowIso = opts.now.toISOString()
  await retireLegacyCash(ctx, trx, account, nowIso)
  const e: Eligible = {
    branchId: branch.id,
    currency: a.currency,
    upTo: w.upTo.toISOString(),
    gateway: opts.gateway,
  }
  const gateways = await branchGateways(trx, branch)
  const totals = await recordMissingFees(trx, e, branch, gateways, opts.now)
  const { planned, carried } = splitTotals(account, BigInt(a.min_amount_minor), totals, gateways)
  if (planned.some((p) => p.kind === TRANSFER) && a.transfer === 'file')
    await requireCollectionAccount(trx, branch, a.currency)
  const batches: BatchRow[] = []
  const targets: BatchTarget[] = []
  for (const p of planned) {
    const id = ctx.ids.next('stl')
    const fields = {
      tenant_id: branch.tenant_id,
      branch_id: branch.id,
      account_id: a.id,
      currency: a.currency,
      period_start: w.periodStart.toISOString(),
      period_end: w.cutoff.toISOString(),
    }
    const row =
      p.kind === CASH_DEPOSIT
        ? cashUpRow(
            fields,
            { count: p.figures.payment_count, gross: p.figures.gross_minor },
            id,
            nowIso,
          )
        : pendingBatch({ ...fields, gateway: p.gateway, retry_of: null, ...p.figures }, id, nowIso)
    await insertBatch(trx, row)
    targets.push({
      batchId: id,
      branchId: branch.id,
      currency: a.currency,
      gateway: p.gateway,
      upTo: e.upTo,
      kind: p.kind,
    })
    batches.push(row)
  }
  return { account, branch, periodEnd: w.cutoff.toISOString(), targets, batches, carried }
}

/**
 * The eligible totals per gateway, after a succeeded payment without a recorded fee gets the fee
 * of the configuration in force now, written on the payment: from then on it is the recorded fee.
 */
async function recordMissingFees(
  trx: Kysely<Database>,
  e: Eligible,
  branch: BranchWithTenant,
  gateways: Awaited<ReturnType<typeof branchGateways>>,
  now: Date,
) {
  let totals = await eligibleTotals(trx, e)
  if (totals.some((t) => t.missingFees > 0)) {
    // A flat fee in another currency is converted at the rate of the day (dsh rates).
    const day = feeDay(branch.timezone, now)
    for (const p of await paymentsWithoutFee(trx, e)) {
      const fees = gateways.find((g) => g.type === p.gateway)?.fees ?? noFees(p.currency)
      const { fee: _fee, ...columns } = await feeColumns(trx, p, branch.currency, fees, day)
      await setPaymentFee(trx, p.id, columns)
    }
    totals = await eligibleTotals(trx, e)
  }
  if (await fillFlatFees(trx, e)) totals = await eligibleTotals(trx, e)
  return totals
}

/**
 * What a run makes of each gateway's totals: cash becomes the cash-up (no fees: the branch banks
 * every shilling it took), every other gateway a transfer batch (net = gross − fees); either
 * carries over below the account's minimum (or at net ≤ 0).
 */
function splitTotals(
  account: AccountWithBranch,
  min: bigint,
  totals: readonly GatewayTotals[],
  gateways: Awaited<ReturnType<typeof branchGateways>>,
): { planned: Planned[]; carried: CarryView[] } {
  const cur = account.currency
  const planned: Planned[] = []
  const carried: CarryView[] = []
  for (const t of totals) {
    const cash = t.gateway === CASH_GATEWAY
    const fees = gateways.find((g) => g.type === t.gateway)?.fees
    const figures = cash
      ? cashUpFigures(t)
      : batchFigures(t, fees && fees.currency === cur ? fees.settlementFeeMinor : 0n)
    const net = figures.net_minor
    if (net < min || net <= 0n)
      carried.push({
        branch: account.branch_code,
        gateway: t.gateway,
        currency: cur,
        reason: 'below_minimum',
        paymentCount: t.count,
        grossMinor: t.gross,
        gross: dec(t.gross, cur),
        netMinor: net,
        net: dec(net, cur),
        minAmountMinor: min,
        minAmount: dec(min, cur),
      })
    else planned.push({ kind: cash ? CASH_DEPOSIT : TRANSFER, gateway: t.gateway, figures })
  }
  return { planned, carried }
}

/** A file transfer is paid from the tenant's collection account: without one, no batch. */
async function requireCollectionAccount(
  trx: Kysely<Database>,
  branch: BranchWithTenant,
  cur: string,
): Promise<void> {
  if (await findCollectionAccount(trx, branch.tenant_id, cur)) return
  throw configError(
    'no_collection_account',
    `tenant ${branch.tenant_slug} has no collection account in ${cur} to pay ${branch.code}'s settlement from`,
    `set one with \`dsh tenant collection-account ${branch.tenant_slug} --currency ${cur} --account-name … --account-number … --bank-name …\``,
  )
}

/**
 * The run's payments move into their batches, all accounts at once (set-based: a few statements
 * whatever the number of payments); then each batch's figures are its members' (the same set, read
 * under the accounts' locks: they differ only when a payment changed in between on PostgreSQL),
 * its creation is audited, and each account's run is recorded for the scheduler.
 */
async function fillBatches(
  ctx: Ctx,
  trx: Kysely<Database>,
  plans: readonly AccountPlan[],
  opts: { record: boolean; now: Date },
): Promise<void> {
  const nowIso = opts.now.toISOString()
  const targets = plans.flatMap((p) => p.targets)
  if (targets.length > 0) {
    const totals = await batchPayments(trx, targets, nowIso)
    for (const { account, batches } of plans)
      for (const row of batches) {
        const t = totals.get(row.id) ?? { count: 0, gross: 0n, fees: 0n, conversion: 0n }
        const figures =
          row.kind === CASH_DEPOSIT
            ? cashUpFigures(t)
            : batchFigures(t, BigInt(row.settlement_fee_minor))
        if (
          figures.payment_count !== row.payment_count ||
          figures.gross_minor !== BigInt(row.gross_minor) ||
          figures.fees_minor !== BigInt(row.fees_minor)
        ) {
          Object.assign(row, figures)
          await updateBatch(trx, row.id, figures)
        }
        await auditBatch(ctx, trx, 'settlement.create', account, row, {
          kind: row.kind,
          gateway: row.gateway,
          currency: row.currency,
          periodStart: row.period_start,
          periodEnd: row.period_end,
          paymentCount: row.payment_count,
          gross: String(row.gross_minor),
          fees: String(row.fees_minor),
          net: String(row.net_minor),
        })
      }
  }
  if (opts.record)
    for (const p of plans)
      await recordRun(
        trx,
        p.account.id,
        p.periodEnd,
        p.batches.length > 0 ? 'batched' : p.carried.length > 0 ? 'carried_over' : 'nothing',
        nowIso,
      )
}
