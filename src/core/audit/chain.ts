import { createHmac } from 'node:crypto'

/*
 * The audit log is a hash chain: row n stores the hash of row n-1, and each hash is an HMAC
 * under a key the store does not hold, so someone with write access to the database alone
 * cannot edit, insert or renumber rows and recompute the hashes. The store also keeps a head
 * (seq and hash of the newest row) so cutting rows off the end shows too.
 */

export interface AuditContent {
  at: string
  actor: string
  action: string
  tenant: string | null
  branch: string | null
  target: string | null
  request: unknown
  outcome: string
}

export interface AuditRecord extends AuditContent {
  seq: number
  prevHash: string
  hash: string
}

export interface AuditHead {
  seq: number
  hash: string
}

/** A row as the store keeps it; `request` is the canonical JSON text of the request. */
export type StoredAuditRow = Omit<AuditContent, 'request'> & {
  seq: number | string
  request: string
  prev_hash: string
  hash: string
}

export type VerifyResult =
  | { ok: true; count: number; headSeq: number }
  | { ok: false; count: number; firstBrokenSeq: number; reason: string }

/** The prevHash of row 1. */
export const GENESIS = '0'.repeat(64)

/**
 * Deterministic JSON: object keys sorted at every depth, bigint as a decimal string (a number
 * would lose digits on the way back), undefined/functions dropped as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  return write(value, new Set()) ?? 'null'
}

function write(value: unknown, stack: Set<object>): string | undefined {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null'
    case 'boolean':
      return value ? 'true' : 'false'
    case 'bigint':
      return JSON.stringify(value.toString())
    case 'object':
      break
    default:
      return undefined
  }
  if (stack.has(value)) throw new TypeError('canonicalJson: the value is circular')
  stack.add(value)
  try {
    const toJSON = (value as { toJSON?: unknown }).toJSON
    if (typeof toJSON === 'function') return write(toJSON.call(value), stack)
    if (Array.isArray(value)) return `[${value.map((v) => write(v, stack) ?? 'null').join(',')}]`
    const parts: string[] = []
    const record = value as Record<string, unknown>
    for (const key of Object.keys(record).sort()) {
      const text = write(record[key], stack)
      if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`)
    }
    return `{${parts.join(',')}}`
  } finally {
    stack.delete(value)
  }
}

/** Only the content fields, so passing a whole record (with seq and hash) hashes the same. */
/** Just the audited content of a row or record (what the hash covers), in its order. */
export const contentOf = (c: AuditContent): AuditContent => ({
  at: c.at,
  actor: c.actor,
  action: c.action,
  tenant: c.tenant,
  branch: c.branch,
  target: c.target,
  request: c.request,
  outcome: c.outcome,
})

export function hashAuditRow(
  auditKey: Uint8Array,
  seq: number,
  prevHash: string,
  content: AuditContent,
): string {
  return createHmac('sha256', auditKey)
    .update(`${seq}\n${prevHash}\n${canonicalJson(contentOf(content))}`)
    .digest('hex')
}

/**
 * The row that follows `head` (null for an empty log). `request` is normalised to what the
 * store will give back (its canonical JSON, parsed), so what is hashed is what is verified.
 */
export function nextRecord(
  auditKey: Uint8Array,
  head: AuditHead | null,
  content: AuditContent,
): AuditRecord {
  const seq = (head?.seq ?? 0) + 1
  const prevHash = head?.hash ?? GENESIS
  const normalised = { ...contentOf(content), request: JSON.parse(canonicalJson(content.request)) }
  return { ...normalised, seq, prevHash, hash: hashAuditRow(auditKey, seq, prevHash, normalised) }
}

export function toStoredRow(r: AuditRecord): StoredAuditRow {
  return {
    seq: r.seq,
    ...contentOf(r),
    request: canonicalJson(r.request),
    prev_hash: r.prevHash,
    hash: r.hash,
  }
}

/** A row from the store as a record, or null when it is not one (wrong types, bad JSON). */
export function fromStoredRow(raw: unknown): AuditRecord | null {
  if (typeof raw !== 'object' || raw === null) return null
  const row = raw as Record<string, unknown>
  const seq = readSeq(row['seq'])
  const str = (k: string) => (typeof row[k] === 'string' ? (row[k] as string) : undefined)
  const opt = (k: string) => (row[k] === null ? null : str(k))
  const [at, actor, action, outcome, prevHash, hash, text] = [
    'at',
    'actor',
    'action',
    'outcome',
    'prev_hash',
    'hash',
    'request',
  ].map(str)
  const [tenant, branch, target] = ['tenant', 'branch', 'target'].map(opt)
  if (
    seq === null ||
    at === undefined ||
    actor === undefined ||
    action === undefined ||
    outcome === undefined ||
    prevHash === undefined ||
    hash === undefined ||
    text === undefined ||
    tenant === undefined ||
    branch === undefined ||
    target === undefined
  ) {
    return null
  }
  let request: unknown
  try {
    request = JSON.parse(text)
  } catch {
    return null
  }
  return { seq, at, actor, action, tenant, branch, target, request, outcome, prevHash, hash }
}

/** SQLite gives a number, PostgreSQL's int8 a string, safe-integer mode a bigint. */
function readSeq(v: unknown): number | null {
  const n =
    typeof v === 'number'
      ? v
      : typeof v === 'bigint' || (typeof v === 'string' && /^[0-9]{1,16}$/.test(v))
        ? Number(v)
        : Number.NaN
  return Number.isSafeInteger(n) && n >= 1 ? n : null
}

/**
 * Checks `rows` (the whole log, ordered by seq, straight from the store) against the stored
 * `head` (null when the store has none). Never throws on bad rows: the first problem is the
 * answer. `count` is the number of rows found intact before it.
 */
export function verifyChain(
  auditKey: Uint8Array,
  rows: readonly unknown[],
  head: AuditHead | null,
): VerifyResult {
  let prev: AuditHead = { seq: 0, hash: GENESIS }
  let count = 0
  const broken = (firstBrokenSeq: number, reason: string): VerifyResult => ({
    ok: false,
    count,
    firstBrokenSeq,
    reason,
  })
  for (let i = 0; i < rows.length; i++) {
    const expected = prev.seq + 1
    const r = fromStoredRow(rows[i])
    if (!r) {
      const seq = readSeq((rows[i] as { seq?: unknown } | null)?.seq) ?? expected
      return broken(seq, `row ${seq} cannot be read`)
    }
    // Duplicates first: when a forged copy sorts before the real row, "inserted" is the truth.
    if (r.seq < expected || readSeq((rows[i + 1] as { seq?: unknown } | null)?.seq) === r.seq) {
      return broken(r.seq, `row ${r.seq} appears twice: a row was inserted`)
    }
    if (r.seq > expected) {
      const missing = r.seq - expected
      return broken(
        expected,
        missing === 1
          ? `row ${expected} is missing`
          : `rows ${expected} to ${r.seq - 1} are missing`,
      )
    }
    if (r.prevHash !== prev.hash) {
      return broken(
        r.seq,
        `row ${r.seq} does not follow row ${prev.seq}: rows were removed or inserted`,
      )
    }
    if (hashAuditRow(auditKey, r.seq, r.prevHash, r) !== r.hash) {
      return broken(r.seq, `row ${r.seq} was changed after it was written`)
    }
    prev = { seq: r.seq, hash: r.hash }
    count++
  }
  return checkHead(prev, head, broken) ?? { ok: true, count, headSeq: prev.seq }
}

function checkHead(
  last: AuditHead,
  head: AuditHead | null,
  broken: (seq: number, reason: string) => VerifyResult,
): VerifyResult | null {
  if (head === null) {
    return last.seq === 0 ? null : broken(last.seq, 'the chain head is missing')
  }
  if (!Number.isSafeInteger(head.seq) || head.seq < 0 || typeof head.hash !== 'string') {
    return broken(Math.max(last.seq, 1), 'the chain head cannot be read')
  }
  if (head.seq > last.seq) {
    const n = head.seq - last.seq
    return broken(
      last.seq + 1,
      n === 1 ? 'the newest row was deleted' : `the newest ${n} rows were deleted`,
    )
  }
  if (head.seq < last.seq) {
    return broken(head.seq + 1, `rows after ${head.seq} are not recorded in the chain head`)
  }
  if (head.hash !== last.hash) {
    return broken(Math.max(last.seq, 1), 'the newest row does not match the chain head')
  }
  return null
}
