import type { Kysely } from 'kysely'
import type { Ctx } from '../context.js'
import type { Database } from '../store/schema.js'
import type { BranchWithTenant } from '../tenants/branches.js'
import { openBankApi } from './accounts.js'
import {
  accountsWithBranch,
  type BatchRow,
  findBatchByTransfer,
  findBatchForUpdate,
  listBatches,
  updateBatch,
} from './batches-store.js'
import { completeLocked } from './lifecycle.js'
import { failLocked } from './transfer.js'
import { type BatchView, batchView, CASH_DEPOSIT } from './view.js'

/**
 * The daemon's seams into settlement: the batches behind `GET /api/branches/:id/settlements`,
 * the bank API's webhook secrets behind `POST /callbacks/bank/:token`, and what a verified bank
 * transfer confirmation does to its batch.
 */

export type { BatchView as SettlementBatchView }

/** The branch's settlement batches, newest first. */
export async function listSettlementBatches(
  ctx: Ctx,
  branch: BranchWithTenant,
): Promise<BatchView[]> {
  const store = await ctx.store()
  const rows = await listBatches(store.db, { branchId: branch.id, limit: 500 })
  return rows.map((r) => batchView(r, branch.code))
}

/**
 * Every webhook secret of the branch's http settlement accounts (a branch may have one account
 * per currency); none means `/callbacks/bank/:token` answers 404 and stores nothing.
 */
export async function bankWebhookSecret(
  ctx: Ctx,
  db: Kysely<Database>,
  branch: BranchWithTenant,
): Promise<string[]> {
  const out: string[] = []
  for (const a of await accountsWithBranch(db, { branchId: branch.id, transfer: 'http' })) {
    const bank = openBankApi(ctx, a)
    if (bank?.webhookSecret) out.push(bank.webhookSecret)
  }
  return out
}

export interface SettlementMatch {
  matched: boolean
  /** The inbox entry's final status when matched. */
  status?: 'applied' | 'ignored' | 'review'
  note: string
}

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined)

/**
 * A verified bank transfer confirmation: finds the batch by the bank's transfer id or by the
 * Idempotency-Key (the batch id) and completes or fails it. A completion for another amount than
 * the net leaves the batch processing (recorded for `dsh doctor`). No batch: unmatched (retried,
 * then orphaned), never dropped.
 */
export async function matchSettlementCallback(
  ctx: Ctx,
  db: Kysely<Database>,
  branch: BranchWithTenant,
  body: unknown,
): Promise<SettlementMatch> {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>
  const transferId = str(b['id'])
  const key = str(b['idempotencyKey'])
  const status = str(b['status'])
  const found = await findBatchByTransfer(db, branch.id, transferId, key)
  if (!found)
    return {
      matched: false,
      note: `no settlement batch has bank transfer ${transferId ?? '(none)'} or key ${key ?? '(none)'}`,
    }
  // A cash-up is banked by the branch: no transfer was sent, so no bank confirmation applies.
  if (found.kind === CASH_DEPOSIT)
    return {
      matched: true,
      status: 'ignored',
      note: `${found.reference} is a cash-up (banked by the branch, never transferred); a transfer confirmation changes nothing`,
    }
  const store = await ctx.store()
  return store.write(async (trx): Promise<SettlementMatch> => {
    const batch = (await findBatchForUpdate(trx, found.id)) as BatchRow
    const who = { tenant_slug: branch.tenant_slug, branch_code: branch.code }
    if (batch.status !== 'pending' && batch.status !== 'processing')
      return {
        matched: true,
        status: 'ignored',
        note: `settlement ${batch.id} is already ${batch.status}`,
      }
    const at = ctx.clock.now().toISOString()
    if (!batch.transfer_id && transferId)
      await updateBatch(trx, batch.id, { transfer_id: transferId, updated_at: at })
    if (status === 'completed') {
      const amount = str(b['amount'])
      const amountMinor = amount && /^\d{1,18}$/.test(amount) ? BigInt(amount) : undefined
      const currency = str(b['currency'])
      if (amountMinor !== BigInt(batch.net_minor) || (currency && currency !== batch.currency)) {
        await updateBatch(trx, batch.id, {
          bank_amount_minor: amountMinor ?? null,
          status: 'processing',
          updated_at: at,
        })
        return {
          matched: true,
          status: 'review',
          note: `the bank confirmed ${currency ?? '?'} ${amount ?? '?'} (minor units) for settlement ${batch.id} whose net is ${batch.currency} ${batch.net_minor}; it stays processing (see dsh doctor)`,
        }
      }
      await completeLocked(ctx, trx, batch, who, transferId ?? batch.id, {
        bankAmountMinor: amountMinor,
      })
      return { matched: true, status: 'applied', note: `settlement ${batch.id} completed` }
    }
    if (status === 'failed') {
      const reason = str(b['failureReason']) ?? 'the bank refused the transfer'
      await failLocked(ctx, trx, batch, who, `the bank refused the transfer: ${reason}`)
      return {
        matched: true,
        status: 'applied',
        note: `settlement ${batch.id} failed (${reason}); its payments are released`,
      }
    }
    return {
      matched: true,
      status: 'ignored',
      note: `transfer status ${status ?? '(none)'} changes nothing`,
    }
  })
}
