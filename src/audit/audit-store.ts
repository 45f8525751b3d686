import type { Kysely } from 'kysely'
import type { StoredAuditRow } from '../core/audit/chain.js'
import { insertMany } from '../store/bulk.js'
import { dialectOf } from '../store/connect.js'
import type { Database } from '../store/schema.js'

export interface AuditHead {
  seq: number
  hash: string
}

/** Reads the chain head; on PostgreSQL it locks the row so appends are serialised. */
export async function lockAuditHead(db: Kysely<Database>): Promise<AuditHead> {
  let q = db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1)
  // SQLite has no FOR UPDATE; its BEGIN IMMEDIATE already serialises writers.
  if (dialectOf(db) === 'postgres') q = q.forUpdate()
  const row = await q.executeTakeFirst()
  return row ? { seq: Number(row.seq), hash: row.hash } : { seq: 0, hash: '' }
}

export async function readAuditHead(db: Kysely<Database>): Promise<AuditHead | null> {
  const row = await db
    .selectFrom('audit_head')
    .select(['seq', 'hash'])
    .where('id', '=', 1)
    .executeTakeFirst()
  return row ? { seq: Number(row.seq), hash: row.hash } : null
}

export type AuditInsert = StoredAuditRow & { seq: number }

export async function appendAuditRow(db: Kysely<Database>, row: AuditInsert): Promise<void> {
  await db.insertInto('audit_log').values(row).execute()
  await db
    .updateTable('audit_head')
    .set({ seq: row.seq, hash: row.hash })
    .where('id', '=', 1)
    .execute()
}

export interface AuditFilter {
  branch?: string | undefined
  action?: string | undefined
  since?: string | undefined
  /** Excluded. */
  until?: string | undefined
  limit?: number | undefined
  /** Only rows about this object (e.g. a settlement batch id). */
  target?: string | undefined
  /** Oldest first (default), or newest first (the newest N of a limited list). */
  order?: 'asc' | 'desc' | undefined
  /** Keyset paging in ascending order: rows after this sequence number. */
  afterSeq?: number | undefined
}

export function listAuditRows(db: Kysely<Database>, f: AuditFilter) {
  let q = db.selectFrom('audit_log').selectAll()
  if (f.branch) q = q.where('branch', '=', f.branch)
  if (f.action)
    q = f.action.endsWith('*')
      ? q.where('action', 'like', `${f.action.slice(0, -1)}%`)
      : q.where('action', '=', f.action)
  if (f.since) q = q.where('at', '>=', f.since)
  if (f.target) q = q.where('target', '=', f.target)
  if (f.until) q = q.where('at', '<', f.until)
  if (f.afterSeq !== undefined) q = q.where('seq', '>', f.afterSeq)
  q = q.orderBy('seq', f.order ?? 'asc')
  if (f.limit) q = q.limit(f.limit)
  return q.execute()
}

/** The whole chain, oldest first (verification reads every row). */
export const listAllAuditRows = (db: Kysely<Database>) =>
  db.selectFrom('audit_log').selectAll().orderBy('seq', 'asc').execute()

export const findAuditRow = (db: Kysely<Database>, seq: number) =>
  db.selectFrom('audit_log').selectAll().where('seq', '=', seq).executeTakeFirst()

const AUDIT_COLUMNS = [
  'seq',
  'at',
  'actor',
  'action',
  'tenant',
  'branch',
  'target',
  'request',
  'outcome',
  'prev_hash',
  'hash',
] as const

/** Appends rows of the chain in order (one prepared insert) and moves the head once, to the last. */
export async function appendAuditRows(db: Kysely<Database>, rows: AuditInsert[]): Promise<void> {
  const last = rows[rows.length - 1]
  if (!last) return
  await insertMany(db, 'audit_log', AUDIT_COLUMNS, rows)
  await db
    .updateTable('audit_head')
    .set({ seq: last.seq, hash: last.hash })
    .where('id', '=', 1)
    .execute()
}
