import type { Kysely } from 'kysely'
import { valueWhere } from '../store/rows.js'
import type { Database } from '../store/schema.js'

export const getSetting = (db: Kysely<Database>, key: string): Promise<string | undefined> =>
  valueWhere(db, 'settings', 'value', { key })

/** The insert of a setting row, for either conflict rule below. */
const insertSetting = (db: Kysely<Database>, key: string, value: string, at: string) =>
  db.insertInto('settings').values({ key, value, updated_at: at })

/** Writes a setting, replacing its value. */
export async function putSetting(db: Kysely<Database>, key: string, value: string, now: string) {
  await insertSetting(db, key, value, now)
    .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now }))
    .execute()
}

/** Writes a setting only when it is absent, so racing writers agree on one value. */
export async function putSettingIfAbsent(
  db: Kysely<Database>,
  key: string,
  value: string,
  at: string,
) {
  await insertSetting(db, key, value, at)
    .onConflict((oc) => oc.column('key').doNothing())
    .execute()
}

/** Every setting whose key starts with `prefix` (exactly: LIKE's `_` wildcard is filtered out). */
export async function settingsWithPrefix(
  db: Kysely<Database>,
  prefix: string,
): Promise<{ key: string; value: string }[]> {
  const rows = await db
    .selectFrom('settings')
    .select(['key', 'value'])
    .where('key', 'like', `${prefix}%`)
    .orderBy('key')
    .execute()
  return rows.filter((r) => r.key.startsWith(prefix))
}
