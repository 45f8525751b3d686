import { type CompiledQuery, type Kysely, sql } from 'kysely'
import { dialectOf, type NativeStatement, nativeWriter } from './connect.js'
import type { Database } from './schema.js'

/**
 * Bulk statements for the hot paths (statement import, reconciliation runs). Each query is
 * compiled once (per transaction) and reused with new values, instead of building and compiling
 * a query per row or chunk. On SQLite inside a write, the statement is prepared once on the
 * transaction's connection and run row by row, synchronously: a one-row INSERT run per row costs
 * SQLite less than a many-row VALUES, and no promise is made per row. On PostgreSQL, rows go in
 * chunks of a many-row statement. Portable: Kysely compiles each dialect's placeholders.
 */

/** Values per many-row statement: enough to amortise a round trip, within any parameter limit. */
const MAX_PARAMS = 8_000

type Table = keyof Database & string

const compiled = new WeakMap<object, Map<string, CompiledQuery>>()
const prepared = new WeakMap<object, Map<string, NativeStatement>>()

function memo<V>(store: WeakMap<object, Map<string, V>>, db: object, key: string, make: () => V) {
  let m = store.get(db)
  if (!m) {
    m = new Map()
    store.set(db, m)
  }
  let v = m.get(key)
  if (v === undefined) {
    v = make()
    m.set(key, v)
  }
  return v
}

const cached = (db: Kysely<Database>, key: string, make: () => CompiledQuery) =>
  memo(compiled, db, key, make)

/** On SQLite inside a write: the query prepared on the transaction's own connection. */
function native(db: Kysely<Database>, key: string, q: CompiledQuery): NativeStatement | undefined {
  const w = nativeWriter(db)
  return w ? memo(prepared, db, key, () => w.prepare(q.sql)) : undefined
}

function insertQuery(
  db: Kysely<Database>,
  table: string,
  columns: readonly string[],
  rows: number,
  ignoreConflictOn: string | undefined,
): CompiledQuery {
  const blank = Object.fromEntries(columns.map((c) => [c, null]))
  // biome-ignore lint/suspicious/noExplicitAny: a generic table; the caller names its columns.
  let b = (db as Kysely<any>).insertInto(table).values(Array.from({ length: rows }, () => blank))
  if (ignoreConflictOn) b = b.onConflict((oc) => oc.column(ignoreConflictOn).doNothing())
  return b.compile()
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
  options: { ignoreConflictOn?: keyof Database[T] & string } = {},
): Promise<number> {
  if (rows.length === 0) return 0
  const key = `insert|${table}|${columns.join(',')}|${options.ignoreConflictOn ?? ''}`
  let inserted = 0
  const st = native(
    db,
    key,
    cached(db, `${key}|1`, () => insertQuery(db, table, columns, 1, options.ignoreConflictOn)),
  )
  if (st) {
    const values: unknown[] = new Array(columns.length)
    for (const row of rows) {
      for (let j = 0; j < columns.length; j++) values[j] = row[columns[j] as string] ?? null
      inserted += Number(st.run(values).changes)
    }
    return inserted
  }
  const per = Math.max(1, Math.floor(MAX_PARAMS / Math.max(1, columns.length)))
  for (let i = 0; i < rows.length; i += per) {
    const n = Math.min(per, rows.length - i)
    const q = cached(db, `${key}|${n}`, () =>
      insertQuery(db, table, columns, n, options.ignoreConflictOn),
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
  const st = native(db, `reusable|${key}`, q)
  if (st)
    return async (values) => ({
      numAffectedRows: BigInt(st.run(order.map((n) => values[n] ?? null)).changes),
    })
  return (values) => db.executeQuery({ ...q, parameters: order.map((n) => values[n] ?? null) })
}

/**
 * Runs a select and gives its rows as arrays of values in the order of its columns: on SQLite
 * inside a write, straight from the transaction's connection (better-sqlite3 makes an array per
 * row faster than an object; integers arrive as bigint, exact); elsewhere through Kysely (values
 * as the dialect gives them). For reads of 100k rows; callers convert integers with BigInt() or
 * Number().
 */
export async function selectArrays(
  db: Kysely<Database>,
  query: { compile(): CompiledQuery },
): Promise<unknown[][]> {
  const q = query.compile()
  const w = nativeWriter(db)
  if (w) {
    const st = memo(prepared, db, `arrays|${q.sql}`, () => w.prepare(q.sql).raw(true))
    return st.all(q.parameters) as unknown[][]
  }
  const res = await db.executeQuery<Record<string, unknown>>(q)
  return res.rows.map((r) => Object.values(r))
}

/** SQLite's page cache (KiB) while a bulk write runs; the default is 2 MiB. */
const BULK_CACHE_KIB = 64 * 1024

/**
 * Runs a bulk write (a statement import, a settlement run's move) with a 64 MiB SQLite page cache
 * on the transaction's connection, put back afterwards. With the default 2 MiB, a 1M-line import's
 * inserts into the primary key on random fingerprints re-read index pages from the OS and spill
 * dirty ones to the WAL before the commit: 2 s of system time of ~19 s (measured; no gain at 100k
 * lines, nor for a reconciliation run). Costs up to 64 MiB of memory while it runs. On PostgreSQL it only runs `fn`.
 */
export async function withBulkCache<T>(db: Kysely<Database>, fn: () => Promise<T>): Promise<T> {
  if (dialectOf(db) !== 'sqlite') return fn()
  const before = (await sql<{ cache_size: number }>`pragma cache_size`.execute(db)).rows[0]
  await sql.raw(`pragma cache_size = -${BULK_CACHE_KIB}`).execute(db)
  try {
    return await fn()
  } finally {
    if (before) await sql.raw(`pragma cache_size = ${Number(before.cache_size)}`).execute(db)
  }
}

/** A `store.write` callback run under withBulkCache. */
export const inBulk =
  <T>(fn: (trx: Kysely<Database>) => Promise<T>) =>
  (trx: Kysely<Database>): Promise<T> =>
    withBulkCache(trx, () => fn(trx))
