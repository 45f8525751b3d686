import { createHash } from 'node:crypto'
import type { Ctx } from '../context.js'
import { isPhoneKey, isSecretKey, maskPhone, REDACTED } from '../core/audit/redact.js'
import { notFound } from '../core/errors.js'
import { jsonOrText } from '../core/json.js'
import { windowPages } from '../core/list.js'
import type { IdGen } from '../core/ports.js'
import { checkChoice } from '../core/validate.js'
import { listBranches } from '../tenants/branches.js'
import { type ListingRequest, listingScope } from '../tenants/listing.js'
import { findInbox, type InboxInsert, type InboxRow, listInbox } from './inbox-store.js'

/** Where callbacks come from: the gateways, and our bank API's transfer confirmations. */
export { CALLBACK_GATEWAYS, type CallbackGateway } from '../core/gateways/types.js'

import { CALLBACK_GATEWAYS, type CallbackGateway } from '../core/gateways/types.js'

/**
 * The life of an inbox entry. Waiting: received (new, or retrying after an error) and unmatched
 * (no payment yet; retried for the unmatched window). Final: applied (the payment agrees with it),
 * ignored (nothing to change, e.g. a late failure after a success), review (the payment was sent
 * to needs_review), orphaned (never matched), rejected (a payment of another branch), invalid
 * (unreadable, no payment to point at), failed (processing kept failing; replay it).
 */
export const INBOX_STATUSES = [
  'received',
  'processing',
  'unmatched',
  'applied',
  'ignored',
  'review',
  'orphaned',
  'rejected',
  'invalid',
  'failed',
] as const

/** Whether a key names a secret (1), a phone number (2) or neither (0), remembered per name. */
const kinds = new Map<string, 0 | 1 | 2>()
function kindOf(key: string): 0 | 1 | 2 {
  let k = kinds.get(key)
  if (k === undefined) {
    k = isSecretKey(key) ? 1 : isPhoneKey(key) ? 2 : 0
    if (kinds.size < 10_000) kinds.set(key, k)
  }
  return k
}

const maskable = (v: unknown): v is string | number | bigint =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint'

/**
 * The body as stored: secrets (by key name: client_secret, tokens…) redacted and phone numbers
 * masked, including Daraja's `{Name:"PhoneNumber", Value:2547…}` items. The same rules as the
 * audit log's redaction (src/core/audit/redact.ts), in one pass over a parsed JSON body.
 */
export function redactCallbackBody(body: unknown): unknown {
  if (Array.isArray(body)) return body.map(redactCallbackBody)
  if (typeof body !== 'object' || body === null) return body
  const o = body as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(o)) {
    const v = o[key]
    const kind = v === null || v === undefined ? 0 : kindOf(key)
    out[key] =
      kind === 1
        ? REDACTED
        : kind === 2 && maskable(v)
          ? maskPhone(String(v))
          : redactCallbackBody(v)
  }
  const name = o['Name'] ?? o['Key']
  if (typeof name === 'string' && 'Value' in o && o['Value'] !== null && o['Value'] !== undefined) {
    const kind = kindOf(name)
    if (kind === 1) out['Value'] = REDACTED
    else if (kind === 2 && maskable(o['Value'])) out['Value'] = maskPhone(String(o['Value']))
  }
  return out
}

const KEPT_HEADERS = [
  'content-type',
  'content-length',
  'user-agent',
  'x-forwarded-for',
  'stripe-signature',
  'x-square-hmacsha256-signature',
  'x-bank-signature',
]

/** The headers worth keeping (signatures are recorded as present, their values redacted). */
export function keptHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): Record<string, unknown> {
  const out: Record<string, string> = {}
  for (const h of KEPT_HEADERS) {
    const v = headers[h]
    if (v !== undefined) out[h] = Array.isArray(v) ? v.join(', ') : v
  }
  return redactCallbackBody(out) as Record<string, unknown>
}

/** The key of a body no adapter could read: the same bytes are the same callback. */
export const bodyKey = (gateway: string, raw: string): string =>
  `${gateway}:sha256:${createHash('sha256').update(raw, 'utf8').digest('hex')}`

const rec = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined
const text = (v: unknown): string | undefined =>
  typeof v === 'string' && v.length > 0 && v.length <= 200 ? v : undefined

/**
 * A gateway reference found in a body whose shape no adapter accepts (a field missing or of the
 * wrong type), so the payment it points at can still be sent to review.
 */
export function looseRef(gateway: string, body: unknown): string | undefined {
  const b = rec(body)
  if (!b) return undefined
  if (gateway === 'mpesa') return text(rec(rec(b['Body'])?.['stkCallback'])?.['CheckoutRequestID'])
  if (gateway === 'mpesa-kcb') return text(b['requestReferenceId'])
  const object = rec(rec(b['data'])?.['object'])
  if (gateway === 'stripe') return text(object?.['id'])
  if (gateway === 'square') return text(rec(object?.['payment'])?.['id'])
  if (gateway === 'bank') return text(b['id'])
  return undefined
}

export interface Incoming {
  gateway: CallbackGateway
  branchId: string
  tenantId: string
  raw: string
  body: unknown
  headers: Readonly<Record<string, string | string[] | undefined>>
  remoteAddr: string | undefined
  dedupeKey: string
  gatewayRef: string | undefined
}

/** The inbox row for a verified callback, due for processing at once. */
export function inboxInsert(ids: IdGen, nowIso: string, c: Incoming): InboxInsert {
  return {
    id: ids.next('cb'),
    dedupe_key: c.dedupeKey,
    gateway: c.gateway,
    branch_id: c.branchId,
    tenant_id: c.tenantId,
    status: 'received',
    received_at: nowIso,
    body: JSON.stringify(redactCallbackBody(c.body)),
    headers: JSON.stringify(keptHeaders(c.headers)),
    remote_addr: c.remoteAddr ?? null,
    gateway_ref: c.gatewayRef ?? null,
    next_attempt_at: nowIso,
    updated_at: nowIso,
  }
}

export interface InboxView {
  id: string
  dedupeKey: string
  gateway: string
  branch: string | null
  status: string
  receivedAt: string
  duplicates: number
  attempts: number
  nextAttemptAt: string | null
  lastError: string | null
  note: string | null
  paymentId: string | null
  processedAt: string | null
}

export interface InboxDetail extends InboxView {
  body: unknown
  headers: unknown
  remoteAddr: string | null
  gatewayRef: string | null
  lastDuplicateAt: string | null
}

export function inboxView(r: InboxRow, branchCode: string | null): InboxView {
  return {
    id: r.id,
    dedupeKey: r.dedupe_key,
    gateway: r.gateway,
    branch: branchCode,
    status: r.status,
    receivedAt: r.received_at,
    duplicates: r.duplicates,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    note: r.note,
    paymentId: r.payment_id,
    processedAt: r.processed_at,
  }
}

export interface CallbacksFilter extends ListingRequest {
  status?: string | undefined
  gateway?: string | undefined
}

/**
 * `callbacks list`, newest first: the newest 100 unless `limit` or `all` (every entry, paged; no
 * hidden cap). `since`/`until` are read in the branch's time zone, else the tenant's.
 */
export async function callbacksList(
  ctx: Ctx,
  f: CallbacksFilter,
): Promise<{ pages: AsyncIterable<InboxView[]>; more: () => boolean; zone: string }> {
  checkChoice('status', f.status, INBOX_STATUSES)
  checkChoice('gateway', f.gateway, CALLBACK_GATEWAYS)
  const { window, branch, zone, since, until, codes } = await listingScope(ctx, f)
  const store = await ctx.store()
  const filter = { status: f.status, gateway: f.gateway, branchId: branch?.id, since, until }
  const toView = (r: InboxRow) =>
    inboxView(r, r.branch_id ? (codes.get(r.branch_id) ?? null) : null)
  const { pages, more } = windowPages(
    window,
    (limit, last?: InboxRow) => listInbox(store.db, { ...filter, limit, last }),
    toView,
  )
  return { pages, more, zone }
}

export async function callbacksShow(ctx: Ctx, id: string): Promise<InboxDetail> {
  const store = await ctx.store()
  const r = await findInbox(store.db, id.trim())
  if (!r) throw notFound('callback_not_found', `no callback "${id}"`, 'see `dsh callbacks list`')
  const codes = new Map((await listBranches(store.db)).map((b) => [b.id, b.code]))
  return {
    ...inboxView(r, r.branch_id ? (codes.get(r.branch_id) ?? null) : null),
    body: jsonOrText(r.body),
    headers: jsonOrText(r.headers),
    remoteAddr: r.remote_addr,
    gatewayRef: r.gateway_ref,
    lastDuplicateAt: r.last_duplicate_at,
  }
}

export {
  countInboxBefore,
  deleteInboxBefore,
  dueInbox,
  type InboxInsert,
  type InboxWriteResult,
  inboxCounts,
  insertInboxBatch,
  isBusy,
  openSqliteInboxWriter,
  releaseClaims,
} from './inbox-store.js'
