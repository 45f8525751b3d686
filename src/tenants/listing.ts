import type { Ctx } from '../context.js'
import { type ListWindow, parseListWindow } from '../core/list.js'
import { parseInstantRange } from '../core/time.js'
import { parseSlug } from '../core/validate.js'
import { type BranchWithTenant, listBranches, requireBranch } from './branches.js'
import { listingZone } from './tenants.js'

/** What a listing request names: a branch, a `since`/`until` range, and `limit` or `all`. */
export interface ListingRequest {
  branch?: string | undefined
  since?: string | undefined
  until?: string | undefined
  limit?: string | undefined
  all?: boolean | undefined
}

export interface ListingScope {
  window: ListWindow
  /** The branch asked for, if any. */
  branch: BranchWithTenant | undefined
  /** The time zone `since`/`until` were read in (the branch's, else the tenant's). */
  zone: string
  /** Included, as an ISO instant. */
  since: string | undefined
  /** Excluded, as an ISO instant. */
  until: string | undefined
  /** Every branch's code by its id, to show rows by branch code. */
  codes: Map<string, string>
}

/** The scope of a newest-first listing (payments, callbacks), read from its request. */
export async function listingScope(ctx: Ctx, f: ListingRequest): Promise<ListingScope> {
  const window = parseListWindow(f)
  const code = f.branch !== undefined ? parseSlug(f.branch, 'branch code') : undefined
  const store = await ctx.store()
  const branch = code ? await requireBranch(store.db, code) : undefined
  const zone = await listingZone(store.db, { branch })
  const range = parseInstantRange(f, zone, ctx.clock.now())
  const codes = new Map((await listBranches(store.db)).map((b) => [b.id, b.code]))
  return {
    window,
    branch,
    zone,
    since: range.since?.toISOString(),
    until: range.until?.toISOString(),
    codes,
  }
}
