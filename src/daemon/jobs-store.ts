import type { Kysely } from 'kysely'
import type { Database } from '../store/schema.js'

/**
 * Claims one tick of a scheduled job: the daemon whose insert wins runs it, every other daemon
 * skips it, and a daemon that comes late finds the row and never re-runs a finished tick.
 */
export async function claimTick(
  db: Kysely<Database>,
  job: string,
  tick: string,
  owner: string,
  nowIso: string,
): Promise<boolean> {
  const r = await db
    .insertInto('job_ticks')
    .values({ job, tick, owner, started_at: nowIso, finished_at: null, outcome: null })
    .onConflict((oc) => oc.columns(['job', 'tick']).doNothing())
    .executeTakeFirst()
  return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1
}

export const finishTick = (
  db: Kysely<Database>,
  job: string,
  tick: string,
  owner: string,
  nowIso: string,
  outcome: string,
) =>
  db
    .updateTable('job_ticks')
    .set({ finished_at: nowIso, outcome: outcome.slice(0, 500) })
    .where('job', '=', job)
    .where('tick', '=', tick)
    .where('owner', '=', owner)
    .execute()

export const listTicks = (db: Kysely<Database>, job?: string) => {
  let q = db.selectFrom('job_ticks').selectAll()
  if (job) q = q.where('job', '=', job)
  return q.orderBy('tick').execute()
}

export const pruneTicks = (db: Kysely<Database>, beforeIso: string) =>
  db.deleteFrom('job_ticks').where('started_at', '<', beforeIso).executeTakeFirst()
