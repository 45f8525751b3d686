import type { Kysely } from 'kysely'
import type { Ctx } from '../context.js'
import type { Database } from '../store/schema.js'
import {
  accountsWithBranch,
  type BatchRow,
  findBatchForUpdate,
  listBatches,
} from './batches-store.js'
import { completeLocked } from './lifecycle.js'

/** What reconciliation reads of a settlement batch. */
export interface ReconBatch {
  id: string
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
}

const view = (r: BatchRow): ReconBatch => ({
  id: r.id,
  reference: r.reference,
  status: r.status,
  currency: r.currency,
  grossMinor: BigInt(r.gross_minor),
  feesMinor: BigInt(r.fees_minor),
  netMinor: BigInt(r.net_minor),
  sentAt: r.sent_at ?? r.created_at,
  completedAt: r.completed_at,
  bankRef: r.bank_ref,
})

/** A branch's batches a bank credit can pay: processing ones, and completed ones. */
export async function batchesForReconciliation(
  db: Kysely<Database>,
  branchId: string,
): Promise<ReconBatch[]> {
  const rows = await listBatches(db, { branchId })
  return rows
    .filter((r) => r.status === 'processing' || r.status === 'completed')
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
 * completed is left as it is. The branches' accounts are read once, not per batch.
 */
export async function completeFromStatement(
  ctx: Ctx,
  trx: Kysely<Database>,
  paid: readonly StatementPayment[],
): Promise<void> {
  const accounts = new Map<string, Awaited<ReturnType<typeof accountsWithBranch>>>()
  for (const p of paid) {
    const b = await findBatchForUpdate(trx, p.batchId)
    if (b?.status !== 'processing') continue
    let list = accounts.get(b.branch_id)
    if (!list) {
      list = await accountsWithBranch(trx, { branchId: b.branch_id })
      accounts.set(b.branch_id, list)
    }
    const a = list.find((x) => x.id === b.account_id)
    if (!a) continue
    await completeLocked(ctx, trx, b, a, p.bankRef.slice(0, 64), {
      bankAmountMinor: p.amountMinor,
    })
  }
}
