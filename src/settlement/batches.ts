import type { Kysely } from 'kysely'
import type { Ctx } from '../context.js'
import type { Database } from '../store/schema.js'
import type { BranchWithTenant } from '../tenants/branches.js'

/**
 * The seams the settlement issue fills. Settlement batches and the bank API's configuration do
 * not exist yet, so these return what is true today: no batches, no bank webhook secret. Nothing
 * here invents data.
 */

/** A settlement batch as `GET /api/branches/:id/settlements` will list it. */
export interface SettlementBatchView {
  id: string
  branch: string
  gateway: string
  currency: string
  status: string
}

/** The branch's settlement batches, newest first. Empty until settlement batches exist. */
export async function listSettlementBatches(
  _app: Ctx,
  _branch: BranchWithTenant,
): Promise<SettlementBatchView[]> {
  return []
}

/**
 * The HMAC secret the bank API signs transfer confirmations with, for one branch; undefined while
 * no bank API is configured (then `/callbacks/bank/:token` answers 404 and stores nothing).
 */
export async function bankWebhookSecret(
  _app: Ctx,
  _db: Kysely<Database>,
  _branch: BranchWithTenant,
): Promise<string | undefined> {
  return undefined
}

/**
 * What a verified bank transfer confirmation does. With no settlement batches there is nothing
 * it can complete: it stays unmatched (retried, then orphaned and audited), never dropped.
 */
export async function matchSettlementCallback(
  _app: Ctx,
  _db: Kysely<Database>,
  _branch: BranchWithTenant,
  _body: unknown,
): Promise<{ matched: false; note: string }> {
  return {
    matched: false,
    note: 'no settlement batch to complete (settlement batches are not implemented yet)',
  }
}
