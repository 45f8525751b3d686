import type { Kysely } from 'kysely'
import { getSetting } from '../admin/settings.js'
import type { Ctx } from '../context.js'
import {
  type AuditContent,
  contentOf,
  nextRecord,
  type StoredAuditRow,
  verifyChain,
} from '../core/audit/chain.js'
import { redactForAudit } from '../core/audit/redact.js'
import { DshError } from '../core/errors.js'
import { jsonOrText } from '../core/json.js'
import { cutPage, keysetPages, parseListWindow } from '../core/list.js'
import { maskUrlsDeep } from '../core/url-mask.js'
import type { Database } from '../store/schema.js'
import { AUDIT_KEY_CONTEXT, AUDIT_KEY_SETTING, auditKey, unseal } from '../vault/vault.js'
import {
  type AuditInsert,
  appendAuditRow,
  appendAuditRows,
  findAuditRow,
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
 * The audit key, unsealed once per transaction (a run that completes 2,000 settlement batches
 * writes 2,000 audit rows): a key is created or rotated only in a transaction of its own.
 */
const keys = new WeakMap<object, Buffer | null>()
async function transactionKey(ctx: Ctx, trx: Kysely<Database>): Promise<Buffer | null> {
  let key = keys.get(trx)
  if (key === undefined) {
    key = await auditKey(ctx, trx, true)
    keys.set(trx, key)
  }
  return key
}

/**
 * Appends one row to the hash chain. Call it inside the same write transaction as the change it
 * records, so the change and its audit row commit or roll back together.
 */
export async function audit(ctx: Ctx, trx: Kysely<Database>, entry: AuditEntry): Promise<void> {
  const key = await transactionKey(ctx, trx)
  if (!key)
    throw new DshError('internal', 'audit_key_missing', 'the audit key could not be created')
  const head = await lockAuditHead(trx)
  await appendAuditRow(trx, chained(ctx, key, head, entry))
}

/** The next row of the chain after `head`, recording `entry` now. */
function chained(
  ctx: Ctx,
  key: Uint8Array,
  head: { seq: number; hash: string },
  entry: AuditEntry,
): AuditInsert {
  const content: AuditContent = {
    at: ctx.clock.now().toISOString(),
    actor: ctx.actor,
    action: entry.action,
    tenant: entry.tenant ?? null,
    branch: entry.branch ?? null,
    target: entry.target ?? null,
    // Secrets by name, then every URL by the one masker (a password or token inside a URL).
    request: maskUrlsDeep(redactForAudit(entry.request ?? {})),
    outcome: entry.outcome ?? 'ok',
  }
  const rec = nextRecord(key, head.seq > 0 ? head : null, content)
  return {
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
  }
}

/**
 * Appends several rows to the hash chain, in order: the same rows as `audit` once per entry, with
 * the head read (locked) once and written once, and the rows inserted by one prepared statement.
 * Inside the write transaction of the changes they record.
 */
export async function auditMany(
  ctx: Ctx,
  trx: Kysely<Database>,
  entries: readonly AuditEntry[],
): Promise<void> {
  if (entries.length === 0) return
  const key = await transactionKey(ctx, trx)
  if (!key)
    throw new DshError('internal', 'audit_key_missing', 'the audit key could not be created')
  let head: { seq: number; hash: string } = await lockAuditHead(trx)
  const rows: AuditInsert[] = []
  for (const entry of entries) {
    const row = chained(ctx, key, head, entry)
    rows.push(row)
    head = row
  }
  await appendAuditRows(trx, rows)
}

/** An audit row as `audit list` shows it: the request parsed, the chain hashes left out. */
export type AuditView = Omit<StoredAuditRow, 'seq' | 'request' | 'prev_hash' | 'hash'> & {
  seq: number
  request: unknown
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
/** Every audit row about one object (a settlement batch's timeline), oldest first. */
export async function auditTrail(ctx: Ctx, target: string): Promise<AuditView[]> {
  const store = await ctx.store()
  return (await listAuditRows(store.db, { target })).map(auditView)
}

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
  return { seq: Number(r.seq), ...contentOf(r), request: jsonOrText(r.request) }
}

export interface VerifyReport {
  ok: boolean
  rows: number
  headSeq: number
  firstBrokenSeq?: number
  reason?: string
  /** Anchors (`--expect`, `--anchors`) checked against the chain. */
  anchorsChecked?: number
}

/** A row the chain must still hold: an audit head written down outside the store. */
export interface AuditAnchor {
  seq: number
  hash: string
}

/** `dsh audit verify`: the chain intact to its head, and holding every anchor given. */
export async function auditVerify(
  ctx: Ctx,
  anchors: readonly AuditAnchor[] = [],
): Promise<VerifyReport> {
  const store = await ctx.store()
  return verifyAuditOf(store.db, (envelope, context) => unseal(ctx, envelope, context), anchors)
}

/**
 * Verifies the chain of any store (the live one, or a backup opened read-only) with a way to open
 * its sealed audit key. Cutting rows off the end together with the stored head leaves a chain that
 * is intact in itself: only an anchor kept outside the store (`--expect`, `--anchors`) shows it.
 */
export async function verifyAuditOf(
  db: Kysely<Database>,
  open: (envelope: string, context: string) => string,
  anchors: readonly AuditAnchor[] = [],
): Promise<VerifyReport> {
  const sealed = await getSetting(db, AUDIT_KEY_SETTING)
  const key = sealed ? Buffer.from(open(sealed, AUDIT_KEY_CONTEXT), 'base64') : null
  const rows = await listAllAuditRows(db)
  const head = await readAuditHead(db)
  if (!key) {
    if (rows.length === 0 && (!head || Number(head.seq) === 0) && anchors.length === 0)
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
  if (!result.ok)
    return {
      ok: false,
      rows: result.count,
      headSeq: head?.seq ?? 0,
      firstBrokenSeq: result.firstBrokenSeq,
      reason: result.reason,
    }
  const bySeq = new Map(rows.map((r) => [Number(r.seq), r.hash]))
  for (const a of anchors) {
    const hash = bySeq.get(a.seq)
    if (hash !== a.hash)
      return {
        ok: false,
        rows: result.count,
        headSeq: result.headSeq,
        firstBrokenSeq: a.seq,
        anchorsChecked: anchors.length,
        reason:
          hash === undefined
            ? `row ${a.seq} of an anchor is gone: the newest rows were cut off (the chain now ends at ${result.headSeq})`
            : `row ${a.seq} no longer has the anchored hash: the chain was rewritten`,
      }
  }
  return {
    ok: true,
    rows: result.count,
    headSeq: result.headSeq,
    ...(anchors.length ? { anchorsChecked: anchors.length } : {}),
  }
}

export interface AuditHeadView {
  seq: number
  hash: string
  /** When the head row was written (null for an empty chain). */
  at: string | null
}

/** `dsh audit head`: what to write down outside the store to detect cut-off rows later. */
export async function auditHead(ctx: Ctx): Promise<AuditHeadView> {
  const store = await ctx.store()
  return headOf(store.db)
}

export async function headOf(db: Kysely<Database>): Promise<AuditHeadView> {
  const head = await readAuditHead(db)
  if (!head || head.seq === 0) return { seq: 0, hash: '', at: null }
  const row = await findAuditRow(db, head.seq)
  return { seq: head.seq, hash: head.hash, at: row?.at ?? null }
}
