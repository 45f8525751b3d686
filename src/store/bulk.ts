import type { CompiledQuery, Kysely } from 'kysely'
import type { Database } from './schema.js'

/**
 * Bulk statements for the hot paths (statement import, reconciliation runs): each query is
 * compiled once per chunk size and reused with new parameters, instead of building and compiling
 * one query per chunk (on SQLite the prepared statement is reused too: the driver keeps one per
 * query text). Portable: Kysely compiles the placeholders of the dialect ($1 on PostgreSQL).
 */

/** Rows per statement: enough to amortise a call, few enough for any parameter limit. */
const MAX_PARAMS = 8_000

type Table = keyof Database & string

const compiled = new WeakMap<object, Map<string, CompiledQuery>>()

function cached(db: Kysely<Database>, key: string, make: () => CompiledQuery): CompiledQuery {
  let m = compiled.get(db)
  if (!m) {
    m = new Map()
    compiled.set(db, m)
  }
  let q = m.get(key)
  if (!q) {
    q = make()
    m.set(key, q)
  }
  return q
}

/**
 * Inserts rows (each with exactly `columns`, in any key order; undefined is stored as NULL), in
 * the caller's transaction. With `ignoreConflictOn`, a row whose value of that unique column is
 * already stored is skipped. Returns how many rows were inserted.
 */
export async function insertMany<T extends Table>(
  db: Kysely<Database>,
  table: T,
  columns: readonly (keyof Database[T] & string)[],
  rows: readonly Readonly<Record<string, unknown>>[],
  options: { ignoreConflictOn?: keyof Database[T] & string; chunk?: number } = {},
): Promise<number> {
  const per = Math.max(
    1,
    Math.min(options.chunk ?? 500, Math.floor(MAX_PARAMS / Math.max(1, columns.length))),
  )
  let inserted = 0
  for (let i = 0; i < rows.length; i += per) {
    const n = Math.min(per, rows.length - i)
    const q = cached(
      db,
      `insert|${table}|${columns.join(',')}|${options.ignoreConflictOn}|${n}`,
      () => {
        const blank = Object.fromEntries(columns.map((c) => [c, null]))
        // biome-ignore lint/suspicious/noExplicitAny: a generic table; the columns are checked above.
        let b = (db as Kysely<any>).insertInto(table).values(Array.from({ length: n }, () => blank))
        const key = options.ignoreConflictOn
        if (key) b = b.onConflict((oc) => oc.column(key).doNothing())
        return b.compile()
      },
    )
    const parameters: unknown[] = new Array(n * columns.length)
    let k = 0
    for (let r = i; r < i + n; r++) {
      const row = rows[r] as Readonly<Record<string, unknown>>
      for (const c of columns) parameters[k++] = row[c] ?? null
    }
    const res = await db.executeQuery({ ...q, parameters })
    inserted += Number(res.numAffectedRows ?? 0n)
  }
  return inserted
}

/** Which of `values` are stored in `table.column` (a unique column), looked up in chunks. */
export async function existing<T extends Table>(
  db: Kysely<Database>,
  table: T,
  column: keyof Database[T] & string,
  values: readonly string[],
): Promise<Set<string>> {
  const found = new Set<string>()
  const per = 500
  // biome-ignore lint/suspicious/noExplicitAny: a generic table; the column is checked above.
  const col = column as any
  for (let i = 0; i < values.length; i += per) {
    const n = Math.min(per, values.length - i)
    const q = cached(db, `existing|${table}|${column}|${n}`, () =>
      // biome-ignore lint/suspicious/noExplicitAny: a generic table; the column is checked above.
      (db as Kysely<any>)
        .selectFrom(table as string)
        .select(col)
        .where(
          col,
          'in',
          Array.from({ length: n }, () => null),
        )
        .compile(),
    )
    const res = await db.executeQuery<Record<string, string>>({
      ...q,
      parameters: values.slice(i, i + n),
    })
    for (const r of res.rows) found.add(r[column] as string)
  }
  return found
}

/**
 * A statement compiled once and run many times with new values: `build` makes the query with
 * `slot(name)` wherever a value goes; the result fills the slots from a record per run.
 */
export function reusable<K extends string>(
  db: Kysely<Database>,
  key: string,
  names: readonly K[],
  build: (slot: (name: K) => string) => { compile(): CompiledQuery },
): (values: Readonly<Record<K, unknown>>) => Promise<{ numAffectedRows?: bigint }> {
  const mark = (name: string) => `\u0000slot:${name}`
  const q = cached(db, `reusable|${key}`, () => build(mark).compile())
  const order = q.parameters.map((p) => {
    const name = names.find((n) => p === mark(n))
    if (name === undefined) throw new Error(`reusable ${key}: a value outside the slots`)
    return name
  })
  return (values) => db.executeQuery({ ...q, parameters: order.map((n) => values[n] ?? null) })
}
