import type { Kysely } from 'kysely'
import type { Database } from '../store/schema.js'
import {
  findLine,
  type LineWithFile,
  linePlaces,
  listCompletedLines,
  listStatements,
  type StatementRow,
} from './statements-store.js'

export type { LineWithFile, StatementRow }

/**
 * A statement line as reconciliation reads it to match (the matcher's LineIn, with the booking
 * time as stored): one object per line, made from the row's values.
 */
export interface ReconLine {
  id: string
  bookedAt: string
  bookedAtMs: number
  amountMinor: bigint
  currency: string
  transactionId: string | null
  reference: string
  counterparty: string
  /** Bank lines only: the description (a deposit reference may be written there). */
  description?: string | undefined
}

/** A line with where it is, as a report shows it: its file name and line number. */
export interface PlacedLine {
  id: string
  file: string
  line_no: number
  reference: string
  booked_at: string
  amount_minor: bigint
  currency: string
}

/** A branch's imported statements of one kind (mpesa, bank), by period. */
export const statementsOf = (db: Kysely<Database>, branchId: string, kind: string) =>
  listStatements(db, branchId, kind)

/** A branch's completed statement lines of one kind booked in [from, to), in no order. */
export async function completedLines(
  db: Kysely<Database>,
  branchId: string,
  kind: string,
  fromIso: string,
  toIso: string,
): Promise<ReconLine[]> {
  return (await listCompletedLines(db, branchId, kind, fromIso, toIso)).map((v) => ({
    id: v[0],
    bookedAt: v[1],
    bookedAtMs: Date.parse(v[1]),
    amountMinor: BigInt(v[2]),
    currency: v[3],
    transactionId: v[4],
    reference: v[5],
    counterparty: v[6],
    ...(v[7] === undefined ? {} : { description: v[7] }),
  }))
}

/**
 * The lines with where they are, by id: their line number and file name (from `statements`, the
 * statements they belong to). Read for the few lines a report shows.
 */
export async function placeLines(
  db: Kysely<Database>,
  lines: readonly ReconLine[],
  statements: readonly StatementRow[],
): Promise<Map<string, PlacedLine>> {
  const files = new Map(statements.map((s) => [s.id, s.file]))
  const byId = new Map(lines.map((l) => [l.id, l]))
  const out = new Map<string, PlacedLine>()
  for (const p of await linePlaces(db, [...byId.keys()])) {
    const l = byId.get(p.id)
    if (l)
      out.set(p.id, {
        id: l.id,
        file: files.get(p.statement_id) ?? '',
        line_no: p.line_no,
        reference: l.reference,
        booked_at: l.bookedAt,
        amount_minor: l.amountMinor,
        currency: l.currency,
      })
  }
  return out
}

/** One statement line with its file name. */
export const statementLine = (
  db: Kysely<Database>,
  id: string,
): Promise<LineWithFile | undefined> => findLine(db, id)
