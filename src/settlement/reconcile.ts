import type { Kysely } from 'kysely'
import { auditMany } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import type { Database } from '../store/schema.js'
import {
  accountsWithBranch,
  type BatchRow,
  completeBatches,
  findBatchesForUpdate,
  listBatches,
} from './batches-store.js'
import type { BatchOwner } from './transfer.js'
import { CASH_DEPOSIT, TRANSFER } from './view.js'

/** What reconciliation reads of a settlement batch. */
export interface ReconBatch {
  id: string
  /** `transfer` (a credit from the collection account) or `cash_deposit` (a branch's cash-up). */
  kind: string
  reference: string
  status: string
  currency: string
  grossMinor: bigint
  feesMinor: bigint
  netMinor: bigint
  /** When the transfer went out (else when the batch was made): the credit comes after it. */
  sentAt: string
  completedAt: string | null
  bankRef: string | null
  /** The period's cut-off: a cash deposit is banked after it. */
  cutoffAt: string
}

const view = (r: BatchRow): ReconBatch => ({
  id: r.id,
  kind: r.kind,
  reference: r.reference,
  status: r.status,
  currency: r.currency,
  grossMinor: BigInt(r.gross_minor),
  feesMinor: BigInt(r.fees_minor),
  netMinor: BigInt(r.net_minor),
  sentAt: r.sent_at ?? r.created_at,
  completedAt: r.completed_at,
  bankRef: r.bank_ref,
  cutoffAt: r.period_end,
})

/** Statuses a bank credit can pay (open) or has paid: a transfer's, then a cash-up's. */
const RECONCILED = new Set(['processing', 'completed', 'awaiting_deposit', 'deposited'])

/**
 * A branch's batches a bank credit can pay: processing and completed transfers, and cash-ups
 * awaiting their deposit or deposited.
 */
export async function batchesForReconciliation(
  db: Kysely<Database>,
  branchId: string,
): Promise<ReconBatch[]> {
  const rows = await listBatches(db, { branchId })
  return rows
    .filter((r) => RECONCILED.has(r.status))
    .map(view)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

/** A bank credit that paid a batch: the statement's reference and the amount paid to it. */
export interface StatementPayment {
  batchId: string
  bankRef: string
  amountMinor: bigint
}

/**
 * Completes processing batches that bank statement credits paid (each audited as
 * settlement.complete, its payments settled), in the caller's transaction. A batch already
 * completed is left as it is; a batch listed twice is completed by its first entry. Set-based:
 * the batches are read (locked) together, updated in a few statements, and their audit rows
 * appended in order with the chain's head read once.
 */
export async function completeFromStatement(
  ctx: Ctx,
  trx: Kysely<Database>,
  paid: readonly StatementPayment[],
): Promise<void> {
  const first = new Map<string, StatementPayment>()
  for (const p of paid) if (!first.has(p.batchId)) first.set(p.batchId, p)
  if (first.size === 0) return
  const rows = new Map((await findBatchesForUpdate(trx, [...first.keys()])).map((b) => [b.id, b]))
  const accounts = new Map<string, Awaited<ReturnType<typeof accountsWithBranch>>>()
  const done: { b: BatchRow; a: BatchOwner; bankRef: string; amountMinor: bigint }[] = []
  for (const p of first.values()) {
    const b = rows.get(p.batchId)
    if (b?.status !== (b?.kind === CASH_DEPOSIT ? 'awaiting_deposit' : 'processing')) continue
    let list = accounts.get(b.branch_id)
    if (!list) {
      list = await accountsWithBranch(trx, { branchId: b.branch_id })
      accounts.set(b.branch_id, list)
    }
    const a = list.find((x) => x.id === b.account_id)
    if (!a) continue
    done.push({ b, a, bankRef: p.bankRef.slice(0, 64), amountMinor: p.amountMinor })
  }
  if (done.length === 0) return
  // A transfer completes, a cash-up is deposited; either way its payments are settled.
  const now = ctx.clock.now().toISOString()
  for (const kind of [TRANSFER, CASH_DEPOSIT]) {
    const part = done.filter((d) => (d.b.kind === CASH_DEPOSIT) === (kind === CASH_DEPOSIT))
    if (part.length > 0)
      await completeBatches(
        trx,
        part.map((d) => ({ id: d.b.id, bankRef: d.bankRef, bankAmountMinor: d.amountMinor })),
        now,
        kind === CASH_DEPOSIT ? 'deposited' : 'completed',
      )
  }
  // The rows `completeLocked` writes through auditBatch, one per batch, in order.
  await auditMany(
    ctx,
    trx,
    done.map(({ a, b, bankRef }) => ({
      action: b.kind === CASH_DEPOSIT ? 'settlement.deposit' : 'settlement.complete',
      tenant: a.tenant_slug,
      branch: a.branch_code,
      target: b.id,
      request: { reference: b.reference, bankRef, net: String(b.net_minor), currency: b.currency },
    })),
  )
}
