import type { Kysely, Selectable } from 'kysely'
import { dialectOf } from '../store/connect.js'
import { listNewestFirst, type NewestPage, rowsWhere, updateById } from '../store/rows.js'
import type { CallbackInboxTable, Database } from '../store/schema.js'

export type InboxRow = Selectable<CallbackInboxTable>

/** What the receiver stores for one callback, before it answers. */
export type InboxInsert = Omit<
  CallbackInboxTable,
  | 'duplicates'
  | 'last_duplicate_at'
  | 'attempts'
  | 'lease_until'
  | 'last_error'
  | 'note'
  | 'payment_id'
  | 'processed_at'
>

export interface InboxWriteResult {
  /** True when a callback with the same key was already stored: counted, not stored again. */
  duplicate: boolean
}

/**
 * Stores a batch of callbacks in the caller's write transaction (group commit): each is inserted
 * unless its key is already there, in which case the stored row's duplicate count goes up.
 */
export async function insertInboxBatch(
  trx: Kysely<Database>,
  rows: readonly InboxInsert[],
): Promise<InboxWriteResult[]> {
  const first = new Map<string, number>()
  rows.forEach((r, i) => {
    if (!first.has(r.dedupe_key)) first.set(r.dedupe_key, i)
  })
  const unique = [...first.values()].map((i) => rows[i]!)
  const inserted = new Set(
    (
      await trx
        .insertInto('callback_inbox')
        .values(unique.map((r) => ({ ...r, duplicates: 0, attempts: 0 })))
        .onConflict((oc) => oc.column('dedupe_key').doNothing())
        .returning('dedupe_key')
        .execute()
    ).map((r) => r.dedupe_key),
  )
  const dups = new Map<string, { n: number; at: string }>()
  const results = rows.map((r, i) => {
    const duplicate = !(first.get(r.dedupe_key) === i && inserted.has(r.dedupe_key))
    if (duplicate) {
      const d = dups.get(r.dedupe_key)
      dups.set(r.dedupe_key, { n: (d?.n ?? 0) + 1, at: r.received_at })
    }
    return { duplicate }
  })
  for (const [key, d] of dups) {
    await trx
      .updateTable('callback_inbox')
      .set((eb) => ({
        duplicates: eb('duplicates', '+', d.n),
        last_duplicate_at: d.at,
        updated_at: d.at,
      }))
      .where('dedupe_key', '=', key)
      .execute()
  }
  return results
}

export interface SqliteInboxWriter {
  /** Writes the batch in one BEGIN IMMEDIATE transaction; throws SQLITE_BUSY without waiting. */
  write(rows: readonly InboxInsert[]): InboxWriteResult[]
  close(): void
}

export const isBusy = (err: unknown): boolean =>
  /^SQLITE_(BUSY|LOCKED)/.test(String((err as { code?: unknown } | null)?.code ?? ''))

/**
 * A dedicated connection for the daemon's callback inserts on SQLite: prepared statements and
 * no busy wait (timeout 0), so a lock held elsewhere never blocks the event loop; the caller
 * retries later. WAL with synchronous=NORMAL, like the main connection: a commit survives a
 * crash of the process.
 */
export async function openSqliteInboxWriter(path: string): Promise<SqliteInboxWriter> {
  const { default: SQLite } = await import('better-sqlite3')
  const conn = new SQLite(path, { timeout: 0, fileMustExist: true })
  conn.pragma('synchronous = NORMAL')
  const insert = conn.prepare(
    `insert into callback_inbox (id, dedupe_key, gateway, branch_id, tenant_id, status,
       received_at, body, headers, remote_addr, gateway_ref, duplicates, attempts,
       next_attempt_at, updated_at)
     values (@id, @dedupe_key, @gateway, @branch_id, @tenant_id, @status, @received_at, @body,
       @headers, @remote_addr, @gateway_ref, 0, 0, @next_attempt_at, @updated_at)
     on conflict (dedupe_key) do nothing`,
  )
  const duplicate = conn.prepare(
    `update callback_inbox set duplicates = duplicates + 1, last_duplicate_at = ?, updated_at = ?
     where dedupe_key = ?`,
  )
  const batch = conn.transaction((rows: readonly InboxInsert[]) =>
    rows.map((r) => {
      if (insert.run(r).changes === 1) return { duplicate: false }
      duplicate.run(r.received_at, r.received_at, r.dedupe_key)
      return { duplicate: true }
    }),
  )
  return {
    write: (rows) => batch.immediate(rows),
    close: () => conn.close(),
  }
}

export const findInbox = (db: Kysely<Database>, id: string) =>
  rowsWhere(db, 'callback_inbox', { id }).executeTakeFirst()

export const findInboxByKey = (db: Kysely<Database>, key: string) =>
  rowsWhere(db, 'callback_inbox', { dedupe_key: key }).executeTakeFirst()

/** The row, locked until commit on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises). */
export function lockInbox(db: Kysely<Database>, id: string) {
  let q = rowsWhere(db, 'callback_inbox', { id })
  if (dialectOf(db) === 'postgres') q = q.forUpdate()
  return q.executeTakeFirst()
}

/** Newest first by `received_at` (then id). */
export interface InboxFilter extends NewestPage<InboxRow> {
  status?: string | undefined
  gateway?: string | undefined
  branchId?: string | undefined
}

export const listInbox = (db: Kysely<Database>, f: InboxFilter) =>
  listNewestFirst(
    db,
    'callback_inbox',
    'received_at',
    { status: f.status, gateway: f.gateway, branch_id: f.branchId },
    f,
  )

/** States the processor picks up when due. */
export const WAITING_STATES = ['received', 'unmatched'] as const

/**
 * Entries due for processing, oldest first: new and retrying ones, unmatched ones due for a
 * look, and claims abandoned by a dead worker. One ordered index range per state, no sort.
 */
export async function dueInbox(
  db: Kysely<Database>,
  nowIso: string,
  limit: number,
): Promise<{ id: string }[]> {
  const out: { id: string }[] = []
  for (const [status, column] of [
    ['received', 'next_attempt_at'],
    ['unmatched', 'next_attempt_at'],
    ['processing', 'lease_until'],
  ] as const) {
    if (out.length >= limit) break
    const rows = await db
      .selectFrom('callback_inbox')
      .select('id')
      .where('status', '=', status)
      .where(column, '<=', nowIso)
      .orderBy('status')
      .orderBy('next_attempt_at')
      .limit(limit - out.length)
      .execute()
    out.push(...rows)
  }
  return out
}

/** Unmatched entries carrying one of these references are due now (their payment appeared). */
export async function wakeUnmatched(
  db: Kysely<Database>,
  refs: readonly { gateway: string; gateway_ref: string }[],
  nowIso: string,
): Promise<number> {
  let woken = 0
  for (const r of refs) {
    const u = await db
      .updateTable('callback_inbox')
      .set({ next_attempt_at: nowIso })
      .where('status', '=', 'unmatched')
      .where('gateway', '=', r.gateway)
      .where('gateway_ref', '=', r.gateway_ref)
      .executeTakeFirst()
    woken += Number(u.numUpdatedRows)
  }
  return woken
}

/**
 * Takes an entry for processing until `leaseUntil`: only a waiting entry that is due, or one
 * whose earlier claim lapsed (its worker died). True when this caller got it.
 */
export async function claimInbox(
  db: Kysely<Database>,
  id: string,
  nowIso: string,
  leaseUntil: string,
): Promise<boolean> {
  const r = await db
    .updateTable('callback_inbox')
    .set((eb) => ({
      status: 'processing',
      lease_until: leaseUntil,
      attempts: eb('attempts', '+', 1),
      updated_at: nowIso,
    }))
    .where('id', '=', id)
    .where((eb) =>
      eb.or([
        eb.and([eb('status', 'in', [...WAITING_STATES]), eb('next_attempt_at', '<=', nowIso)]),
        eb.and([eb('status', '=', 'processing'), eb('lease_until', '<=', nowIso)]),
      ]),
    )
    .executeTakeFirst()
  return Number(r.numUpdatedRows) === 1
}

export const updateInbox = updateById('callback_inbox')

/**
 * Rows per status (and the duplicates counted on them), from the counters the store's triggers
 * keep (inbox_counts), not a count of the inbox.
 */
export async function inboxCounts(
  db: Kysely<Database>,
): Promise<{ status: string; gateway: string; count: number; duplicates: number }[]> {
  const rows = await db
    .selectFrom('inbox_counts')
    .select((eb) => [
      'status',
      'gateway',
      eb.fn.sum<number | string | bigint>('count').as('count'),
      eb.fn.sum<number | string | bigint>('duplicates').as('duplicates'),
    ])
    .groupBy(['status', 'gateway'])
    .orderBy('status')
    .orderBy('gateway')
    .execute()
  return rows
    .filter((r) => BigInt(r.count) !== 0n)
    .map((r) => ({
      status: r.status,
      gateway: r.gateway,
      count: Number(r.count),
      duplicates: Number(r.duplicates),
    }))
}

/**
 * Puts back every claimed entry (SQLite only, when the daemon starts: it holds the store's
 * daemon lock, so any claim left is from a daemon that died).
 */
export const releaseClaims = (db: Kysely<Database>, nowIso: string) =>
  db
    .updateTable('callback_inbox')
    .set({ status: 'received', lease_until: null, next_attempt_at: nowIso, updated_at: nowIso })
    .where('status', '=', 'processing')
    .executeTakeFirst()

/** Final inbox entries of these statuses received before `beforeIso`, per status. */
export async function countInboxBefore(
  db: Kysely<Database>,
  statuses: readonly string[],
  beforeIso: string,
): Promise<number> {
  const row = await db
    .selectFrom('callback_inbox')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('status', 'in', [...statuses])
    .where('received_at', '<', beforeIso)
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

/**
 * Deletes at most `limit` entries of `status` received before `beforeIso` (through
 * callback_inbox_status_received_idx); returns how many.
 */
export async function deleteInboxBefore(
  db: Kysely<Database>,
  status: string,
  beforeIso: string,
  limit: number,
): Promise<number> {
  const r = await db
    .deleteFrom('callback_inbox')
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('callback_inbox')
        .select('id')
        .where('status', '=', status)
        .where('received_at', '<', beforeIso)
        .orderBy('status')
        .orderBy('received_at')
        .limit(limit),
    )
    .executeTakeFirst()
  return Number(r.numDeletedRows)
}
