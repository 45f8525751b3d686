import type { Kysely, Selectable } from 'kysely'
import type { Database, EventsTable } from '../store/schema.js'

export type EventRow = Selectable<EventsTable>

/** An event before it has its number (`seq`, given at append). */
export type EventInsert = Omit<EventsTable, 'seq'>

/**
 * Appends one event in the caller's transaction. The number comes from the one `event_head` row,
 * whose update locks it until commit on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises
 * writers), so numbers follow commit order: a reader that has seen N never misses a row below N.
 */
export async function appendEventRow(db: Kysely<Database>, row: EventInsert): Promise<number> {
  const head = await db
    .updateTable('event_head')
    .set((eb) => ({ seq: eb('seq', '+', 1) }))
    .where('id', '=', 1)
    .returning('seq')
    .executeTakeFirstOrThrow()
  const seq = Number(head.seq)
  await db
    .insertInto('events')
    .values({ ...row, seq })
    .execute()
  return seq
}

export interface EventFilter {
  tenantId?: string | undefined
  branchId?: string | undefined
}

/** Events after `afterSeq`, oldest first. */
export function listEventsAfter(
  db: Kysely<Database>,
  afterSeq: number,
  limit: number,
  f: EventFilter = {},
) {
  let q = db.selectFrom('events').selectAll().where('seq', '>', afterSeq)
  if (f.tenantId) q = q.where('tenant_id', '=', f.tenantId)
  if (f.branchId) q = q.where('branch_id', '=', f.branchId)
  return q.orderBy('seq').limit(limit).execute()
}

export async function latestEventSeq(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('event_head').select('seq').where('id', '=', 1).executeTakeFirst()
  return Number(row?.seq ?? 0)
}

/** A cheap read that proves the store answers (the liveness probe). */
export const pingStore = (db: Kysely<Database>) =>
  db.selectFrom('event_head').select('seq').executeTakeFirst()

/** The oldest event still kept (null when the table is empty). */
export async function oldestEventSeq(db: Kysely<Database>): Promise<number | null> {
  const row = await db.selectFrom('events').select('seq').orderBy('seq').limit(1).executeTakeFirst()
  return row ? Number(row.seq) : null
}

/**
 * The number of the newest event appended before `beforeIso` (by its time, through
 * events_at_idx): every event up to it has expired. Null when none has.
 */
export async function lastEventSeqBefore(
  db: Kysely<Database>,
  beforeIso: string,
): Promise<number | null> {
  const row = await db
    .selectFrom('events')
    .select('seq')
    .where('at', '<', beforeIso)
    .orderBy('at', 'desc')
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst()
  return row ? Number(row.seq) : null
}

/** How many events are numbered up to `throughSeq` (a primary-key range). */
export async function countEventsThrough(db: Kysely<Database>, throughSeq: number) {
  const row = await db
    .selectFrom('events')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('seq', '<=', throughSeq)
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

/** Deletes at most `limit` of the oldest events numbered up to `throughSeq`; returns how many. */
export async function deleteOldestEvents(
  db: Kysely<Database>,
  throughSeq: number,
  limit: number,
): Promise<number> {
  const r = await db
    .deleteFrom('events')
    .where('seq', 'in', (eb) =>
      eb
        .selectFrom('events')
        .select('seq')
        .where('seq', '<=', throughSeq)
        .orderBy('seq')
        .limit(limit),
    )
    .executeTakeFirst()
  return Number(r.numDeletedRows)
}
