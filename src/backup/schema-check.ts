import type { Kysely } from 'kysely'
import type { Ctx } from '../context.js'
import { isPostgresUrl } from '../store/connect.js'
import type { Database } from '../store/schema.js'
import {
  expectedSqliteObjects,
  migrationsUpTo,
  normaliseSql,
  type SchemaObject,
  sqliteObjects,
  withMigratedScratchPg,
} from '../store/schema-objects.js'
import { appliedMigrations } from './backup-store.js'
import { pgSchemaOfArchive, pgSchemaOfDatabase } from './pg.js'

/*
 * A store holds exactly the objects dsh's migrations create at its schema version: a trigger,
 * view or index planted beside them (an UPDATE of bank accounts AFTER INSERT ON payments) runs
 * with every payment and survives backup and restore. Backups, restores and `dsh doctor` compare
 * the store's objects, SQL included, with a fresh database migrated to the same version.
 */

export interface SchemaCheck {
  ok: boolean
  /** Objects compared (the store's own). */
  objects: number
  /** One line per object that is extra, missing or different, naming it. */
  findings: string[]
}

const label = (o: SchemaObject) =>
  o.table && o.table !== o.name ? `${o.type} ${o.name} on ${o.table}` : `${o.type} ${o.name}`
const keyOf = (o: SchemaObject) => `${o.type}\u0000${o.name}\u0000${o.table}`

/** What differs, extra objects first (the dangerous ones), each naming the object. */
export function diffObjects(expected: SchemaObject[], actual: SchemaObject[]): string[] {
  const want = new Map(expected.map((o) => [keyOf(o), o]))
  const have = new Map(actual.map((o) => [keyOf(o), o]))
  const extra = actual
    .filter((o) => !want.has(keyOf(o)))
    .map((o) => `${label(o)} is not made by dsh's migrations: ${o.sql.slice(0, 160)}`)
  const changed = actual
    .filter((o) => want.has(keyOf(o)) && want.get(keyOf(o))!.sql !== o.sql)
    .map((o) => `${label(o)} differs from what dsh's migrations create: ${o.sql.slice(0, 160)}`)
  const missing = expected.filter((o) => !have.has(keyOf(o))).map((o) => `${label(o)} is missing`)
  return [...extra, ...changed, ...missing]
}

const result = (expected: SchemaObject[], actual: SchemaObject[]): SchemaCheck => {
  const findings = diffObjects(expected, actual)
  return { ok: findings.length === 0, objects: actual.length, findings }
}

const unknownVersion = (latest: string): SchemaCheck => ({
  ok: false,
  objects: 0,
  findings: [`the schema version ${latest || '(none)'} is not one of dsh's migrations`],
})

/** A SQLite database (a backup's copy or the live store) against its version's migrations. */
export async function checkSqliteObjects(
  db: Kysely<unknown> | Kysely<Database>,
  latest: string,
): Promise<SchemaCheck> {
  if (!migrationsUpTo(latest)) return unknownVersion(latest)
  return result(await expectedSqliteObjects(latest), await sqliteObjects(db))
}

/**
 * The objects of a plain SQL schema dump (`pg_dump --schema-only` / `pg_restore --schema-only
 * -f -`), one per table-of-contents entry (`-- Name: …; Type: …; Schema: …; Owner: …`), its SQL
 * as normalised below.
 *
 * Normalised away, because they are not objects of the schema and differ between two dumps of
 * one schema: comment lines (they carry the owner, the tool and server versions), the `SET`
 * and `set_config` preamble (the dump's session settings), `\restrict`/`\unrestrict` (a random
 * token newer pg_dump writes per dump) and ownership (dumped with --no-owner: the owner is
 * whoever ran the migrations). Privileges are dumped with --no-privileges: GRANTs are the site's
 * roles, not dsh's schema.
 */
export function parsePgSchemaDump(text: string): SchemaObject[] {
  const out: SchemaObject[] = []
  let current: { type: string; name: string; lines: string[] } | null = null
  const close = () => {
    if (current)
      out.push({
        type: current.type,
        name: current.name,
        table: '',
        sql: normaliseSql(current.lines.join('\n')),
      })
  }
  for (const line of text.split('\n')) {
    const head = /^-- Name: (.*); Type: (.*); Schema: (.*); Owner: .*$/.exec(line)
    if (head) {
      close()
      current = {
        type: head[2]!,
        name: head[3] === '-' ? head[1]! : `${head[3]}.${head[1]}`,
        lines: [],
      }
      continue
    }
    if (
      line.startsWith('--') ||
      /^SET /.test(line) ||
      /^SELECT pg_catalog\.set_config\(/.test(line) ||
      /^\\(un)?restrict /.test(line)
    )
      continue
    if (current) current.lines.push(line)
    else if (line.trim() !== '')
      out.push({ type: 'STATEMENT', name: line.slice(0, 60), table: '', sql: normaliseSql(line) })
  }
  close()
  return out
}

/** The PostgreSQL objects a fresh database migrated to `latest` has (a scratch database). */
async function expectedPg(url: string, latest: string, env: Ctx['env']): Promise<SchemaObject[]> {
  return withMigratedScratchPg(url, latest, async (scratch) =>
    parsePgSchemaDump(await pgSchemaOfDatabase(scratch, env)),
  )
}

/** A PostgreSQL backup archive against its version's migrations, on the server of `url`. */
export async function checkPgArchiveObjects(
  url: string,
  file: string,
  latest: string,
  env: Ctx['env'],
): Promise<SchemaCheck> {
  if (!migrationsUpTo(latest)) return unknownVersion(latest)
  const actual = parsePgSchemaDump(await pgSchemaOfArchive(file, env))
  return result(await expectedPg(url, latest, env), actual)
}

/** `dsh doctor`: the live store's objects against the migrations it has applied. */
export async function checkStoreObjects(ctx: Ctx, dbSpec: string): Promise<SchemaCheck> {
  const store = await ctx.store()
  const latest = (await appliedMigrations(store.db)).at(-1) ?? ''
  if (!isPostgresUrl(dbSpec)) return checkSqliteObjects(store.db, latest)
  if (!migrationsUpTo(latest)) return unknownVersion(latest)
  const actual = parsePgSchemaDump(await pgSchemaOfDatabase(dbSpec, ctx.env))
  return result(await expectedPg(dbSpec, latest, ctx.env), actual)
}
