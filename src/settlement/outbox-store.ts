import type { Kysely } from 'kysely'
import type { Database } from '../store/schema.js'

/** What the outbox needs of a batch: its reference, status and the files it recorded. */
export interface OutboxBatch {
  id: string
  reference: string
  status: string
  transfer_adapter: string | null
  transfer_files: string | null
}

const FIELDS = ['id', 'reference', 'status', 'transfer_adapter', 'transfer_files'] as const

/** The batches with these references (the outbox's file names), by the unique reference index. */
export async function batchesByReference(
  db: Kysely<Database>,
  references: readonly string[],
): Promise<OutboxBatch[]> {
  const out: OutboxBatch[] = []
  // A few hundred at a time: SQLite and PostgreSQL cap the parameters of one statement.
  for (let i = 0; i < references.length; i += 500) {
    const part = references.slice(i, i + 500)
    out.push(
      ...(await db
        .selectFrom('settlement_batches')
        .select(FIELDS)
        .where('reference', 'in', part)
        .execute()),
    )
  }
  return out
}

/** File batches that are `processing`: their files must be in the outbox. */
export const processingFileBatches = (db: Kysely<Database>): Promise<OutboxBatch[]> =>
  db
    .selectFrom('settlement_batches')
    .select(FIELDS)
    .where('status', '=', 'processing')
    .where('transfer_adapter', '=', 'file')
    .orderBy('created_at')
    .execute()
