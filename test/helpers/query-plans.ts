import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import SQLite from 'better-sqlite3'
import pg from 'pg'
import { openStore } from '../../src/store/connect.js'
import { migrateToLatest } from '../../src/store/migrate.js'

/**
 * Captures every statement the drivers run in this process (better-sqlite3 statements and pg
 * client queries), so a test can look at the plans of the queries the real code issues rather than
 * at a hand-written list that drifts. Installed once; records only inside `capturing()`.
 */
export interface CapturedQuery {
  sql: string
  params: unknown[]
  /** What the test was doing when the query ran (e.g. "GET /api/payments/:id/status"). */
  during: string
}

let installed = false
let current: { label: string; out: CapturedQuery[] } | undefined

function record(sql: unknown, params: unknown) {
  if (!current || typeof sql !== 'string') return
  const list = Array.isArray(params) ? params : params === undefined ? [] : [params]
  current.out.push({ sql, params: list, during: current.label })
}

export function installQueryCapture(): void {
  if (installed) return
  installed = true
  const probe = new SQLite(':memory:')
  const proto = Object.getPrototypeOf(probe.prepare('select 1')) as Record<string, unknown>
  probe.close()
  for (const name of ['all', 'get', 'run', 'iterate']) {
    const original = proto[name] as (this: { source: string }, ...a: unknown[]) => unknown
    proto[name] = function (this: { source: string }, ...args: unknown[]) {
      record(this.source, args.length === 1 ? args[0] : args)
      return original.apply(this, args)
    }
  }
  const clientProto = pg.Client.prototype as unknown as Record<string, unknown>
  const query = clientProto['query'] as (...a: unknown[]) => unknown
  clientProto['query'] = function (this: unknown, ...args: unknown[]) {
    const [text, values] = args
    if (typeof text === 'string') record(text, values)
    else if (text && typeof text === 'object' && 'text' in text)
      record((text as { text: string }).text, (text as { values?: unknown[] }).values)
    return query.apply(this, args)
  }
}

/** Runs `fn` and returns what it ran through the drivers, labelled. */
export async function capturing(
  label: string,
  into: CapturedQuery[],
  fn: () => Promise<unknown>,
): Promise<void> {
  const outer = current
  current = { label, out: into }
  try {
    await fn()
  } finally {
    current = outer
  }
}

/** The tables that grow with the business: no query of a hot path may read them whole. */
export const GROWING_TABLES = [
  'payments',
  'payment_attempts',
  'callback_inbox',
  'events',
  'audit_log',
  'statement_lines',
  'recon_matches',
  'recon_discrepancies',
  'settlement_runs',
  'settlement_batches',
  'settlement_batch_items',
] as const

const DML = /^\s*(select|update|delete|with|insert)\b/i
const touchesGrowing = (sqlText: string) =>
  GROWING_TABLES.some((t) => new RegExp(`"?\\b${t}\\b"?`, 'i').test(sqlText))

export interface PlanViolation {
  sql: string
  during: string[]
  plan: string
}

/** One entry per distinct query text (with the first parameters seen and every label). */
export function distinctQueries(qs: readonly CapturedQuery[]): CapturedQuery[] {
  const seen = new Map<string, CapturedQuery & { labels: Set<string> }>()
  for (const q of qs) {
    if (!DML.test(q.sql) || !touchesGrowing(q.sql)) continue
    // An INSERT … VALUES has no plan to speak of (an INSERT … SELECT does).
    if (/^\s*insert\b/i.test(q.sql) && !/\bselect\b/i.test(q.sql)) continue
    const e = seen.get(q.sql)
    if (e) e.labels.add(q.during)
    else seen.set(q.sql, { ...q, labels: new Set([q.during]) })
  }
  return [...seen.values()].map(({ labels, ...q }) => ({ ...q, during: [...labels].join('; ') }))
}

const hasLimit = (sqlText: string) => /\blimit\b/i.test(sqlText)

/**
 * A partial index's predicate as its conjuncts, by index name. Read from a SQLite schema (the
 * migration's own words: PostgreSQL rewrites them, `IN` as `= ANY (ARRAY[…])`), which both
 * dialects share: the migrations create the same indexes under the same names.
 */
export type PartialIndexes = ReadonlyMap<string, readonly string[]>

export function partialIndexesOf(db: SQLite.Database): PartialIndexes {
  const rows = db
    .prepare("select name, sql from sqlite_master where type = 'index' and sql is not null")
    .all() as { name: string; sql: string }[]
  const out = new Map<string, string[]>()
  for (const r of rows) {
    const m = /\bwhere\b([\s\S]*)$/i.exec(r.sql)
    if (m) out.set(r.name, m[1]!.split(/\s+and\s+/i).map(normaliseSql))
  }
  return out
}

/** Lower case, no quotes, no `table.` qualifiers, one space, `(a, b)` spacing. */
function normaliseSql(text: string): string {
  return text
    .toLowerCase()
    .replace(/"/g, '')
    .replace(/\b[a-z_][a-z0-9_]*\.(?=[a-z_])/g, '')
    .replace(/\s+/g, ' ')
    .replace(/\(\s+/g, '(')
    .replace(/\s+\)/g, ')')
    .replace(/\s*,\s*/g, ', ')
    .trim()
}

const literal = (v: unknown): string =>
  typeof v === 'string'
    ? `'${v.replace(/'/g, "''")}'`
    : typeof v === 'boolean'
      ? v
        ? '1'
        : '0'
      : v === null || v === undefined
        ? 'null'
        : String(v)

/** The query's text with its parameters written in (`?` in order, or `$n`). */
function withParams(q: CapturedQuery): string {
  let i = 0
  return q.sql
    .replace(/\$(\d+)\b/g, (_, n: string) => literal(q.params[Number(n) - 1]))
    .replace(/\?/g, () => literal(q.params[i++]))
}

/**
 * A scan of a partial index is a bounded read only when the query asks for the index's own set:
 * every conjunct of the index's predicate is in the query's text. A planner may also pick the
 * index because the query merely implies its predicate (`status = 'pending'` implies
 * `status not in ('failed', 'cancelled')`): then the scan reads the whole, large set.
 */
export function predicateIsQuerys(
  partial: PartialIndexes,
  index: string | undefined,
  q: CapturedQuery,
): boolean {
  const conjuncts = index === undefined ? undefined : partial.get(index)
  if (!conjuncts) return false
  const text = normaliseSql(withParams(q))
  return conjuncts.every((c) => text.includes(c))
}

/** The partial indexes of a freshly migrated SQLite store (for a PostgreSQL run). */
export async function migratedPartialIndexes(): Promise<PartialIndexes> {
  const dir = mkdtempSync(join(tmpdir(), 'dsh-qp-'))
  try {
    const file = join(dir, 'schema.db')
    const store = await openStore(file, { create: true })
    try {
      await migrateToLatest(store)
    } finally {
      await store.close()
    }
    const db = new SQLite(file, { readonly: true })
    try {
      return partialIndexesOf(db)
    } finally {
      db.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * SQLite: a query fails when its plan reads a growing table whole: `SCAN t` (a table scan), or
 * `SCAN t USING [COVERING] INDEX i` on a full (not partial) index when nothing bounds it with a
 * LIMIT. `SEARCH` (an index lookup or range) is fine. `captured` (everything the code ran) gives
 * the temporary tables to make first.
 */
export function sqlitePlanViolations(
  file: string,
  qs: readonly CapturedQuery[],
  captured: readonly CapturedQuery[] = [],
): PlanViolation[] {
  const db = new SQLite(file, { readonly: true })
  try {
    const partial = partialIndexesOf(db)
    // The temporary tables the captured code made (a settlement run's member list), made again
    // here so the queries that join them can be explained.
    const temps = new Set(
      captured.filter((q) => /^\s*create\s+temp(orary)?\s+table\b/i.test(q.sql)).map((q) => q.sql),
    )
    for (const ddl of temps) db.exec(ddl)
    const out: PlanViolation[] = []
    for (const q of qs) {
      const rows = db
        .prepare(`explain query plan ${q.sql}`)
        .all(...(q.params as unknown[]).map(sqliteParam)) as { detail: string }[]
      const details = rows.map((r) => r.detail)
      const bad = details.filter((d) => {
        const m = /^SCAN (?:TABLE )?(\w+)(?: AS \w+)?(?: USING (?:COVERING )?INDEX (\w+))?/.exec(d)
        if (!m || !(GROWING_TABLES as readonly string[]).includes(m[1]!)) return false
        if (!m[2]) return true
        if (predicateIsQuerys(partial, m[2], q)) return false
        return !hasLimit(q.sql)
      })
      // A page (LIMIT) of a growing table sorted in a temporary B-tree: every matching row is
      // read and sorted to return the first few (the list needs an index in its order).
      const reads = details.some((d) =>
        GROWING_TABLES.some((t) => new RegExp(`^(SCAN|SEARCH) (TABLE )?${t}\\b`).test(d)),
      )
      if (reads && hasLimit(q.sql) && details.includes('USE TEMP B-TREE FOR ORDER BY'))
        bad.push('sorted page')
      if (bad.length) out.push({ sql: q.sql, during: [q.during], plan: details.join('\n') })
    }
    return out
  } finally {
    db.close()
  }
}

const sqliteParam = (v: unknown) => (typeof v === 'boolean' ? (v ? 1 : 0) : v)

interface PgPlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Index Name'?: string
  'Index Cond'?: string
  Plans?: PgPlanNode[]
}

/**
 * PostgreSQL, with `enable_seqscan`, `enable_sort`, `enable_hashjoin` and `enable_mergejoin` off
 * (the planner picks them on small tables whatever the indexes): a query fails when it still needs a `Seq Scan` of a growing table, an
 * index scan with no index condition on a full index with no `Limit` above it, or a `Sort` of a
 * growing table's rows under a `Limit` (a page that sorts every matching row).
 */
export async function pgPlanViolations(
  url: string,
  qs: readonly CapturedQuery[],
): Promise<PlanViolation[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const saved = current
  current = undefined
  try {
    // Tiny test tables make sequential scans, sorts and hash or merge joins over whole tables the
    // cheapest plan whatever the indexes (a batch of the test's few payments holds most of them):
    // priced out, they remain only where no index can serve the query or drive the join.
    await client.query('set enable_seqscan = off')
    await client.query('set enable_sort = off')
    await client.query('set enable_hashjoin = off')
    await client.query('set enable_mergejoin = off')
    const partial = new Map(await migratedPartialIndexes())
    // A PostgreSQL-only partial index (the counters' delta rows) in PostgreSQL's words, casts
    // and parentheses dropped: `((delta = 1))` → `delta = 1`.
    const pgPartial = (
      await client.query<{ indexname: string; indexdef: string }>(
        "select indexname, indexdef from pg_indexes where schemaname = current_schema() and indexdef ilike '% where %'",
      )
    ).rows
    for (const r of pgPartial) {
      if (partial.has(r.indexname)) continue
      const where = /\bwhere\b([\s\S]*)$/i.exec(r.indexdef)![1]!
      partial.set(
        r.indexname,
        where
          .replace(/::[a-z ]+/gi, '')
          .replace(/[()]/g, '')
          .split(/\s+and\s+/i)
          .map(normaliseSql),
      )
    }
    const out: PlanViolation[] = []
    for (const q of qs) {
      const r = await client.query<{ 'QUERY PLAN': [{ Plan: PgPlanNode }] }>(
        `explain (format json) ${q.sql}`,
        q.params as unknown[],
      )
      const root = r.rows[0]!['QUERY PLAN'][0].Plan
      const bad: string[] = []
      const walk = (n: PgPlanNode, limited: boolean) => {
        const rel = n['Relation Name']
        const lim = limited || n['Node Type'] === 'Limit'
        if (rel && (GROWING_TABLES as readonly string[]).includes(rel)) {
          if (n['Node Type'] === 'Seq Scan') bad.push(`Seq Scan on ${rel}`)
          else if (
            /^Index (Only )?Scan$/.test(n['Node Type']) &&
            !n['Index Cond'] &&
            !predicateIsQuerys(partial, n['Index Name'], q) &&
            !lim
          )
            bad.push(`${n['Node Type']} on ${rel} using ${n['Index Name']} with no condition`)
          else if (n['Node Type'] === 'Bitmap Heap Scan' && !lim) {
            const whole = (b: PgPlanNode): boolean =>
              (b['Node Type'] === 'Bitmap Index Scan' &&
                !b['Index Cond'] &&
                !predicateIsQuerys(partial, b['Index Name'], q)) ||
              (b.Plans ?? []).some(whole)
            if ((n.Plans ?? []).some(whole))
              bad.push(`Bitmap Heap Scan on ${rel} through a whole index, no condition`)
          }
        }
        for (const c of n.Plans ?? []) walk(c, lim)
      }
      walk(root, false)
      // A page (Limit) over a Sort of a growing table's rows: every matching row is read and
      // sorted to return the first few (the list needs an index in its order).
      const scans = (n: PgPlanNode): boolean =>
        (GROWING_TABLES as readonly string[]).includes(n['Relation Name'] ?? '') ||
        (n.Plans ?? []).some(scans)
      const sortedPage = (n: PgPlanNode, limited: boolean): boolean =>
        (limited &&
          /Sort$/.test(n['Node Type']) &&
          n['Node Type'] !== 'Incremental Sort' &&
          scans(n)) ||
        (n.Plans ?? []).some((c) => sortedPage(c, limited || n['Node Type'] === 'Limit'))
      if (sortedPage(root, false)) bad.push('a Limit over a Sort of the rows')
      if (bad.length) out.push({ sql: q.sql, during: [q.during], plan: bad.join('\n') })
    }
    return out
  } finally {
    current = saved
    await client.end()
  }
}
