import type { Kysely } from 'kysely'
import type { Ctx } from '../context.js'
import {
  type AuditContent,
  nextRecord,
  type StoredAuditRow,
  verifyChain,
} from '../core/audit/chain.js'
import { redactForAudit } from '../core/audit/redact.js'
import { DshError } from '../core/errors.js'
import { cutPage, keysetPages, parseListWindow } from '../core/list.js'
import type { Database } from '../store/schema.js'
import { auditKey } from '../vault/vault.js'
import {
  appendAuditRow,
  listAllAuditRows,
  listAuditRows,
  lockAuditHead,
  readAuditHead,
} from './audit-store.js'
import { parseAuditFilter } from './filter.js'

export interface AuditEntry {
  action: string
  tenant?: string | null | undefined
  branch?: string | null | undefined
  target?: string | null | undefined
  request?: unknown
  outcome?: string
}

/**
 * Appends one row to the hash chain. Call it inside the same write transaction as the change it
 * records, so the change and its audit row commit or roll back together.
 */
export async function audit(ctx: Ctx, trx: Kysely<Database>, entry: AuditEntry): Promise<void> {
  const key = await auditKey(ctx, trx, true)
  if (!key)
    throw new DshError('internal', 'audit_key_missing', 'the audit key could not be created')
  const head = await lockAuditHead(trx)
  const content: AuditContent = {
    at: ctx.clock.now().toISOString(),
    actor: ctx.actor,
    action: entry.action,
    tenant: entry.tenant ?? null,
    branch: entry.branch ?? null,
    target: entry.target ?? null,
    request: redactForAudit(entry.request ?? {}),
    outcome: entry.outcome ?? 'ok',
  }
  const rec = nextRecord(key, head.seq > 0 ? head : null, content)
  await appendAuditRow(trx, {
    seq: rec.seq,
    at: rec.at,
    actor: rec.actor,
    action: rec.action,
    tenant: rec.tenant,
    branch: rec.branch,
    target: rec.target,
    request: JSON.stringify(rec.request),
    outcome: rec.outcome,
    prev_hash: rec.prevHash,
    hash: rec.hash,
  })
}

/** An audit row as `audit list` shows it: the request parsed, the chain hashes left out. */
export type AuditView = Omit<StoredAuditRow, 'seq' | 'request' | 'prev_hash' | 'hash'> & {
  seq: number
  request: unknown
}

function parseRequest(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

export interface AuditListFlags {
  branch?: string | undefined
  since?: string | undefined
  until?: string | undefined
  action?: string | undefined
  limit?: string | undefined
  all?: boolean | undefined
}

/**
 * `audit list`, oldest first: the newest 100 rows unless `limit` or `all` (every row, paged).
 * `since`/`until` are read in `zone` (the branch's, else the tenant's: the caller knows).
 */
export async function auditList(
  ctx: Ctx,
  flags: AuditListFlags,
  zone: string,
): Promise<{ pages: AsyncIterable<AuditView[]>; more: () => boolean }> {
  const window = parseListWindow(flags)
  const filter = parseAuditFilter(flags, zone, ctx.clock.now())
  const store = await ctx.store()
  let more = false
  async function* pages(): AsyncGenerator<AuditView[]> {
    if (window.limit !== undefined) {
      const page = cutPage(
        await listAuditRows(store.db, { ...filter, order: 'desc', limit: window.limit + 1 }),
        window.limit,
      )
      more = page.more
      yield page.rows.reverse().map(auditView)
      return
    }
    for await (const rows of keysetPages((last: AuditRowOut | undefined, n) =>
      listAuditRows(store.db, {
        ...filter,
        limit: n,
        afterSeq: last === undefined ? undefined : Number(last.seq),
      }),
    ))
      yield rows.map(auditView)
  }
  return { pages: pages(), more: () => more }
}

type AuditRowOut = Awaited<ReturnType<typeof listAuditRows>>[number]

function auditView(r: AuditRowOut): AuditView {
  return {
    seq: Number(r.seq),
    at: r.at,
    actor: r.actor,
    action: r.action,
    tenant: r.tenant,
    branch: r.branch,
    target: r.target,
    request: parseRequest(r.request),
    outcome: r.outcome,
  }
}

export interface VerifyReport {
  ok: boolean
  rows: number
  headSeq: number
  firstBrokenSeq?: number
  reason?: string
}

export async function auditVerify(ctx: Ctx): Promise<VerifyReport> {
  const store = await ctx.store()
  const key = await auditKey(ctx, store.db, false)
  const rows = await listAllAuditRows(store.db)
  const head = await readAuditHead(store.db)
  if (!key) {
    if (rows.length === 0 && (!head || Number(head.seq) === 0))
      return { ok: true, rows: 0, headSeq: 0 }
    return {
      ok: false,
      rows: rows.length,
      headSeq: Number(head?.seq ?? 0),
      firstBrokenSeq: 1,
      reason: 'the audit key is missing from the store',
    }
  }
  const result = verifyChain(key, rows, head && head.seq > 0 ? head : null)
  if (result.ok) return { ok: true, rows: result.count, headSeq: result.headSeq }
  return {
    ok: false,
    rows: result.count,
    headSeq: head?.seq ?? 0,
    firstBrokenSeq: result.firstBrokenSeq,
    reason: result.reason,
  }
}
