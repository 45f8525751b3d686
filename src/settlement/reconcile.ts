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
    if (b?.status !== 'processing') continue
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
  await completeBatches(
    trx,
    done.map((d) => ({ id: d.b.id, bankRef: d.bankRef, bankAmountMinor: d.amountMinor })),
    ctx.clock.now().toISOString(),
  )
  // The rows `completeLocked` writes through auditBatch, one per batch, in order.
  await auditMany(
    ctx,
    trx,
    done.map(({ a, b, bankRef }) => ({
      action: 'settlement.complete',
      tenant: a.tenant_slug,
      branch: a.branch_code,
      target: b.id,
      request: { reference: b.reference, bankRef, net: String(b.net_minor), currency: b.currency },
    })),
  )
}
