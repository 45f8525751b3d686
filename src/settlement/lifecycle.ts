import type { Kysely } from 'kysely'
import { auditTrail } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { columns, csvTable } from '../core/csv.js'
import { conflict, notFound, validationError } from '../core/errors.js'
import { allocate } from '../core/money/allocate.js'
import { minorAndDecimal, toDecimalString } from '../core/money/format.js'
import { scheduledAfter, scheduledBefore } from '../core/schedule.js'
import { parseSlug } from '../core/validate.js'
import type { Database } from '../store/schema.js'
import { requireBranch } from '../tenants/branches.js'
import { scheduleOf } from './account-fields.js'
import {
  type AccountWithBranch,
  accountsWithBranch,
  type BatchRow,
  batchMembers,
  findBatch,
  findBatchForUpdate,
  insertBatch,
  insertItemsFrom,
  itemTotals,
  listBatches,
  markBatched,
  markSettled,
  releaseItems,
  updateBatch,
} from './batches-store.js'
import { isCashUp, isLegacyCashTransfer } from './cash-ups.js'
import { outboxDir, voidBatchFiles } from './outbox.js'
import {
  auditBatch,
  type BatchOwner,
  failLocked,
  heldByOther,
  pendingBatch,
  type SendResult,
  sendBatch,
} from './transfer.js'
import { type BatchView, batchFigures, batchView, CASH_UP_STATUSES } from './view.js'

export const BATCH_STATUSES = [
  'pending',
  'processing',
  'completed',
  'failed',
  'cancelled',
  ...CASH_UP_STATUSES.filter((s) => s !== 'cancelled'),
] as const

async function branchCodes(ctx: Ctx): Promise<(id: string) => string> {
  const store = await ctx.store()
  const accounts = await accountsWithBranch(store.db, {})
  const m = new Map(accounts.map((a) => [a.branch_id, a.branch_code]))
  return (id) => m.get(id) ?? id
}

async function requireBatch(ctx: Ctx, id: string): Promise<BatchRow> {
  const store = await ctx.store()
  const b = await findBatch(store.db, id.trim())
  if (!b)
    throw notFound(
      'settlement_not_found',
      `no settlement batch "${id}"`,
      'see `dsh settlements list`',
    )
  return b
}

async function accountFor(ctx: Ctx, b: BatchRow) {
  const store = await ctx.store()
  const a = (await accountsWithBranch(store.db, { branchId: b.branch_id })).find(
    (x) => x.id === b.account_id,
  )
  if (!a) throw notFound('settlement_account_missing', `batch ${b.id} has no settlement account`)
  return a
}

export interface ListRequest {
  branch?: string | undefined
  status?: string | undefined
  since?: string | undefined
  limit?: string | undefined
}

export async function listSettlements(ctx: Ctx, req: ListRequest): Promise<BatchView[]> {
  const store = await ctx.store()
  const branch = req.branch
    ? await requireBranch(store.db, parseSlug(req.branch, 'branch code'))
    : undefined
  if (req.status !== undefined && !(BATCH_STATUSES as readonly string[]).includes(req.status))
    throw validationError(
      'invalid_status',
      `status "${req.status}" is not one of ${BATCH_STATUSES.join(', ')}`,
    )
  let since: string | undefined
  if (req.since !== undefined) {
    const d = new Date(req.since)
    if (!/^\d{4}-\d{2}-\d{2}/.test(req.since) || Number.isNaN(d.getTime()))
      throw validationError('invalid_date', `since "${req.since}" is not a date`, 'e.g. 2026-11-01')
    since = d.toISOString()
  }
  let limit: number | undefined
  if (req.limit !== undefined) {
    if (!/^\d{1,7}$/.test(req.limit) || Number(req.limit) < 1)
      throw validationError('invalid_limit', `limit "${req.limit}" must be a whole number from 1`)
    limit = Number(req.limit)
  }
  const rows = await listBatches(store.db, {
    branchId: branch?.id,
    status: req.status,
    since,
    limit,
  })
  const code = await branchCodes(ctx)
  return rows.map((r) => batchView(r, code(r.branch_id)))
}

/** A batch member as `show` and `export` both list it: the payment, its amount and its fee. */
export interface MemberBase {
  paymentId: string
  completedAt: string | null
  receiptNumber: string | null
  orderId: string | null
  currency: string
  amountMinor: bigint
  amount: string
  feeMinor: bigint
  fee: string
}

type Member = Awaited<ReturnType<typeof batchMembers>>[number]

function memberBase(m: Member, currency: string): MemberBase {
  return {
    paymentId: m.payment_id,
    completedAt: m.completed_at,
    receiptNumber: m.receipt_number,
    orderId: m.order_id,
    currency,
    ...minorAndDecimal('amount', { minor: BigInt(m.amount_minor), currency }),
    ...minorAndDecimal('fee', { minor: BigInt(m.fee_minor), currency }),
  }
}

export interface MemberView extends MemberBase {
  conversionFeeMinor: bigint
  conversionFee: string
  netMinor: bigint
  net: string
  released: boolean
}

export interface TimelineEntry {
  at: string
  action: string
  actor: string
  detail: unknown
}

export async function showSettlement(
  ctx: Ctx,
  id: string,
): Promise<BatchView & { payments: MemberView[]; timeline: TimelineEntry[] }> {
  const b = await requireBatch(ctx, id)
  const store = await ctx.store()
  const members = await batchMembers(store.db, b.id)
  const money = <K extends string>(name: K, minor: bigint) =>
    minorAndDecimal(name, { minor, currency: b.currency })
  const code = await branchCodes(ctx)
  const timeline = (await auditTrail(ctx, b.id)).map((r) => ({
    at: r.at,
    action: r.action,
    actor: r.actor,
    detail: r.request,
  }))
  return {
    ...batchView(b, code(b.branch_id)),
    payments: members.map((p) => {
      const base = memberBase(p, b.currency)
      return {
        ...base,
        ...money('conversionFee', BigInt(p.conversion_fee_minor)),
        ...money('net', base.amountMinor - base.feeMinor),
        released: p.released_at !== null,
      }
    }),
    timeline,
  }
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'deposited'])

function refuseTerminal(b: BatchRow, what: string): void {
  if (TERMINAL.has(b.status))
    throw conflict(
      'settlement_final',
      `settlement ${b.id} is ${b.status}; it cannot be ${what}`,
      b.status === 'failed' ? `retry it with \`dsh settlements retry ${b.id}\`` : undefined,
    )
}

/** Completes a batch (the bank confirmed it): its payments are settled. */
export async function completeSettlement(
  ctx: Ctx,
  id: string,
  req: { bankRef: string },
): Promise<BatchView> {
  const bankRef = req.bankRef?.trim() ?? ''
  if (!/^[\x21-\x7e][\x20-\x7e]{0,63}$/.test(bankRef))
    throw validationError('invalid_bank_ref', 'bank reference must be 1 to 64 printable characters')
  return changeBatch(ctx, id, 'completed', (trx, b, a) => completeLocked(ctx, trx, b, a, bankRef))
}

/**
 * Changes one batch in a transaction, under its lock, unless it is final (`what` it would have
 * become names the refusal); returns the batch as it is afterwards.
 */
async function changeBatch(
  ctx: Ctx,
  id: string,
  what: string,
  change: (trx: Kysely<Database>, b: BatchRow, a: AccountWithBranch) => Promise<void>,
): Promise<BatchView> {
  const b0 = await requireBatch(ctx, id)
  const a = await accountFor(ctx, b0)
  const store = await ctx.store()
  await store.write(async (trx) => {
    const b = (await findBatchForUpdate(trx, b0.id)) as BatchRow
    refuseTerminal(b, what)
    await change(trx, b, a)
  })
  return batchView((await findBatch(store.db, b0.id)) as BatchRow, a.branch_code)
}

export async function completeLocked(
  ctx: Ctx,
  trx: Kysely<Database>,
  b: BatchRow,
  a: BatchOwner,
  bankRef: string,
  extra: { bankAmountMinor?: bigint | undefined } = {},
): Promise<void> {
  const at = ctx.clock.now().toISOString()
  const cash = isCashUp(b)
  await updateBatch(trx, b.id, {
    status: cash ? 'deposited' : 'completed',
    bank_ref: bankRef,
    completed_at: at,
    updated_at: at,
    ...(extra.bankAmountMinor !== undefined ? { bank_amount_minor: extra.bankAmountMinor } : {}),
  })
  await markSettled(trx, b.id, at)
  await auditBatch(ctx, trx, cash ? 'settlement.deposit' : 'settlement.complete', a, b, {
    bankRef,
    net: String(b.net_minor),
    currency: b.currency,
  })
}

/** A cancelled or failed batch, with where its files went and what to do at the bank. */
export interface StoppedView extends BatchView {
  /** The batch's files, now in outbox/void/ ([] when it had none in the outbox). */
  voidedFiles: string[]
  /** For a batch whose transfer a person may already have sent (file or manual): cancel it there. */
  warning: string | null
}

/**
 * After a cancel or fail is committed: the batch's files leave the outbox (a crash before this
 * leaves them for `dsh settle` to move and `dsh doctor` to report), and a transfer that reached
 * `processing` through a person gets the warning that the bank may hold it already.
 */
async function afterStop(ctx: Ctx, view: BatchView): Promise<StoppedView> {
  const store = await ctx.store()
  const row = (await findBatch(store.db, view.id)) as BatchRow
  const voidedFiles = await voidBatchFiles(ctx.home, row)
  const reached = row.sent_at !== null && row.transfer_adapter !== 'http'
  return {
    ...view,
    voidedFiles,
    warning: reached
      ? `if ${row.reference} was already uploaded to the bank, cancel it there too`
      : null,
  }
}

/** Fails a batch: its payments go back to the next run. */
export async function failSettlement(
  ctx: Ctx,
  id: string,
  req: { reason: string },
): Promise<StoppedView> {
  const reason = req.reason?.trim() ?? ''
  if (!reason || reason.length > 500)
    throw validationError('invalid_reason', 'reason must be 1 to 500 characters')
  await outboxDir(ctx.home) // a symlinked outbox is refused before anything changes
  const view = await changeBatch(ctx, id, 'failed', (trx, b, a) => {
    if (isCashUp(b))
      throw conflict(
        'cash_up_cannot_fail',
        `${b.reference} is a cash-up: nothing was sent, so nothing can fail`,
        `cancel it with \`dsh settlements cancel ${b.id}\` to release its payments`,
      )
    return failLocked(ctx, trx, b, a, reason)
  })
  return afterStop(ctx, view)
}

/** Cancels a batch not yet paid: pending, or processing when a person sends it (file, manual). */
export async function cancelSettlement(
  ctx: Ctx,
  id: string,
  req: { yes?: boolean | undefined },
): Promise<StoppedView> {
  const b0 = await requireBatch(ctx, id)
  refuseTerminal(b0, 'cancelled')
  await outboxDir(ctx.home) // a symlinked outbox is refused before anything changes
  if (b0.status === 'processing' && b0.transfer_adapter === 'http')
    throw conflict(
      'settlement_sent',
      `settlement ${b0.id} was sent to the bank API; it cannot be cancelled`,
      'wait for the bank’s confirmation, or fail it with `dsh settlements fail` once the bank has refused it',
    )
  await ctx.ask.confirm(
    `Cancel ${isCashUp(b0) ? 'cash-up' : 'settlement'} ${b0.reference} (${b0.currency} ${toDecimalString({ minor: BigInt(b0.net_minor), currency: b0.currency })}) and release its ${b0.payment_count} payment(s)`,
    req.yes === true,
  )
  const view = await changeBatch(ctx, b0.id, 'cancelled', async (trx, b, a) => {
    if (b.status === 'processing' && b.transfer_adapter === 'http')
      throw conflict(
        'settlement_sent',
        `settlement ${b.id} was sent to the bank API; it cannot be cancelled`,
      )
    if (b.status === 'pending' && heldByOther(b, ctx.clock.now()))
      throw conflict(
        'settlement_sending',
        `settlement ${b.id} is being sent by another dsh process (${b.send_owner}); it cannot be cancelled now`,
        'wait for that run to finish, then look again with `dsh settlements show`',
      )
    const at = ctx.clock.now().toISOString()
    await updateBatch(trx, b.id, { status: 'cancelled', updated_at: at })
    await releaseItems(trx, b.id, at)
    await auditBatch(ctx, trx, 'settlement.cancel', a, b, { from: b.status })
  })
  return afterStop(ctx, view)
}

/**
 * `retry`: a pending batch is sent again (same Idempotency-Key); a failed one becomes a new
 * batch for the same period from its released payments that are still unsettled.
 */
export async function retrySettlement(
  ctx: Ctx,
  id: string,
): Promise<{ batch: BatchView; send: SendResult }> {
  const b0 = await requireBatch(ctx, id)
  if (isCashUp(b0) || isLegacyCashTransfer(b0))
    throw conflict(
      'cash_not_transferred',
      `${b0.reference} is ${isCashUp(b0) ? 'a cash-up' : 'a cash transfer'}: cash is banked by the branch, never sent from the collection account`,
      isCashUp(b0)
        ? 'the branch deposits it; reconciliation (or `dsh settlements complete <id> --bank-ref <slip>`) marks it deposited'
        : `cancel it with \`dsh settlements cancel ${b0.id}\`; the next \`dsh settle\` puts its payments into a cash-up`,
    )
  const a = await accountFor(ctx, b0)
  const store = await ctx.store()
  if (b0.status === 'pending') {
    const send = await sendBatch(ctx, b0.id)
    return { batch: batchView((await findBatch(store.db, b0.id)) as BatchRow, a.branch_code), send }
  }
  if (b0.status !== 'failed')
    throw conflict(
      'settlement_not_retryable',
      `settlement ${b0.id} is ${b0.status}; only a pending or failed batch can be retried`,
    )
  const newId = ctx.ids.next('stl')
  await store.write(async (trx) => {
    const b = (await findBatchForUpdate(trx, b0.id)) as BatchRow
    if (b.status !== 'failed')
      throw conflict('settlement_not_retryable', `settlement ${b.id} is ${b.status}`)
    const at = ctx.clock.now().toISOString()
    const row = pendingBatch({ ...b, retry_of: b.id }, newId, at)
    await insertBatch(trx, row)
    await insertItemsFrom(trx, newId, b.id)
    const t = await itemTotals(trx, newId)
    if (t.count === 0)
      throw conflict(
        'nothing_to_retry',
        `none of settlement ${b.id}'s payments is still unsettled; nothing to retry`,
      )
    await markBatched(trx, newId, at)
    await updateBatch(trx, newId, batchFigures(t, BigInt(b.settlement_fee_minor)))
    await auditBatch(ctx, trx, 'settlement.retry', a, row, { retryOf: b.id, paymentCount: t.count })
  })
  const send = await sendBatch(ctx, newId)
  return { batch: batchView((await findBatch(store.db, newId)) as BatchRow, a.branch_code), send }
}

export interface ExportRow extends MemberBase {
  settlementFeeShareMinor: bigint
  settlementFeeShare: string
  netMinor: bigint
  net: string
}

/**
 * One row per payment with the batch's settlement fee spread by amount (largest remainder), so
 * Σ net is the batch's net exactly.
 */
export async function exportSettlement(ctx: Ctx, id: string): Promise<ExportRow[]> {
  const b = await requireBatch(ctx, id)
  const store = await ctx.store()
  const live = TERMINAL.has(b.status) && b.status !== 'completed'
  const members = (await batchMembers(store.db, b.id)).filter((m) => live || m.released_at === null)
  if (members.length === 0) return []
  const stl = BigInt(b.settlement_fee_minor)
  const weights = members.map((m) => BigInt(m.amount_minor))
  const shares = weights.some((w) => w > 0n)
    ? allocate({ minor: stl, currency: b.currency }, weights).map((s) => s.minor)
    : allocate(
        { minor: stl, currency: b.currency },
        weights.map(() => 1n),
      ).map((s) => s.minor)
  return members.map((m, i) => {
    const base = memberBase(m, b.currency)
    const share = shares[i] ?? 0n
    return {
      ...base,
      ...minorAndDecimal('settlementFeeShare', { minor: share, currency: b.currency }),
      ...minorAndDecimal('net', {
        minor: base.amountMinor - base.feeMinor - share,
        currency: b.currency,
      }),
    }
  })
}

const EXPORT_COLUMNS = columns(
  ['payment_id', 'text'],
  ['completed_at', 'text'],
  ['receipt_number', 'text'],
  ['order_id', 'text'],
  ['currency', 'text'],
  ['amount', 'number'],
  ['fee', 'number'],
  ['settlement_fee_share', 'number'],
  ['net', 'number'],
)

/** One line per payment (the one CSV writer guards the text cells: a receipt is never a formula). */
export function exportCsv(rows: readonly ExportRow[]): string {
  return csvTable(
    EXPORT_COLUMNS,
    rows.map((r) => [
      r.paymentId,
      r.completedAt,
      r.receiptNumber,
      r.orderId,
      r.currency,
      r.amount,
      r.fee,
      r.settlementFeeShare,
      r.net,
    ]),
  )
}

export interface NextRun {
  branch: string
  currency: string
  schedule: string
  auto: boolean
  nextRunAt: string
  periodStart: string
  periodEnd: string
}

/** The next scheduled cut-off of every settlement account (or one branch's). */
export async function nextSettlements(
  ctx: Ctx,
  req: { branch?: string | undefined },
): Promise<NextRun[]> {
  const store = await ctx.store()
  const branch = req.branch
    ? await requireBranch(store.db, parseSlug(req.branch, 'branch code'))
    : undefined
  const now = ctx.clock.now()
  return (await accountsWithBranch(store.db, { branchId: branch?.id })).map((a) => {
    const s = scheduleOf(a)
    const next = scheduledAfter(s, a.branch_timezone, now)
    const start = scheduledBefore(s, a.branch_timezone, next)
    const when =
      s.kind === 'weekly'
        ? `weekly ${s.weekday} ${s.at}`
        : s.kind === 'monthly'
          ? `monthly ${s.day} ${s.at}`
          : `daily ${s.at}`
    return {
      branch: a.branch_code,
      currency: a.currency,
      schedule: when,
      auto: a.auto === 1,
      nextRunAt: next.toISOString(),
      periodStart: start.toISOString(),
      periodEnd: next.toISOString(),
    }
  })
}
