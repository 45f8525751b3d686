import { type Kysely, type MigrationResultSet, Migrator } from 'kysely'
import { MIGRATIONS } from '../../migrations/index.js'
import { configError, DshError } from '../core/errors.js'
import type { Store } from './connect.js'

export interface MigrationState {
  name: string
  appliedAt: string | null
}

export interface SchemaStatus {
  migrations: MigrationState[]
  pending: string[]
  /** Applied names this dsh does not know: the store was migrated by a newer dsh. */
  unknown: string[]
}

const migrator = (db: Kysely<unknown>) =>
  new Migrator({
    db,
    provider: { getMigrations: async () => ({ ...MIGRATIONS }) },
  })

async function appliedNames(store: Store): Promise<Map<string, string>> {
  const db = store.db as unknown as Kysely<{
    kysely_migration: { name: string; timestamp: string }
  }>
  try {
    const rows = await db.selectFrom('kysely_migration').select(['name', 'timestamp']).execute()
    return new Map(rows.map((r) => [r.name, String(r.timestamp)]))
  } catch {
    return new Map()
  }
}

export async function schemaStatus(store: Store): Promise<SchemaStatus> {
  const applied = await appliedNames(store)
  const known = Object.keys(MIGRATIONS).sort()
  return {
    migrations: known.map((name) => ({ name, appliedAt: applied.get(name) ?? null })),
    pending: known.filter((n) => !applied.has(n)),
    unknown: [...applied.keys()].filter((n) => !(n in MIGRATIONS)).sort(),
  }
}

/** Every command but init/migrate calls this: the schema must be exactly the one this dsh knows. */
export async function assertMigrated(store: Store): Promise<void> {
  const status = await schemaStatus(store)
  if (status.unknown.length > 0) {
    throw configError(
      'store_too_new',
      `the store at ${store.location} was migrated by a newer dsh (${status.unknown.join(', ')})`,
      'upgrade dsh to the version that migrated this store',
    )
  }
  if (status.pending.length > 0) {
    throw configError(
      'store_not_migrated',
      `the store at ${store.location} is not migrated (${status.pending.length} pending)`,
      'run `dsh init` (or `dsh migrate`) first',
    )
  }
}

/** Applies pending migrations; returns the names applied now. */
export async function migrateToLatest(store: Store): Promise<string[]> {
  const status = await schemaStatus(store)
  if (status.unknown.length > 0) await assertMigrated(store)
  const { error, results }: MigrationResultSet = await migrator(
    store.db as Kysely<unknown>,
  ).migrateToLatest()
  if (error) {
    throw new DshError(
      'config',
      'migration_failed',
      `migration failed: ${String((error as Error).message ?? error)}`,
      {
        hint: 'the failed migration was rolled back; report this with `--verbose` output',
        cause: error,
      },
    )
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

/**
 * Migrates a fresh database up to `name` exactly (the schema a store had at that version): the
 * baseline the schema-object check compares a backup or a live store with.
 */
export async function migrateFreshTo(db: Kysely<unknown>, name: string): Promise<void> {
  const { error } = await migrator(db).migrateTo(name)
  if (error)
    throw new DshError(
      'internal',
      'migration_failed',
      `migrating a scratch database to ${name} failed: ${String((error as Error).message ?? error)}`,
      { cause: error },
    )
}
