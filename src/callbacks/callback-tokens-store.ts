import type { Kysely } from 'kysely'
import type { Database } from '../store/schema.js'

/*
 * The settings rows behind callback path tokens (src/callbacks/callback-url.ts):
 *   callback_token:<branchId>:<type>       the token, sealed by the vault (never plain)
 *   callback_token_hash:<branchId>:<type>  HMAC-SHA256 of it under the lookup key (hex)
 *   callback_lookup_key                    that HMAC key, sealed by the vault
 */

/** Inserts a settings row unless one exists (two processes racing agree on the first). */
export async function insertSettingIfAbsent(
  db: Kysely<Database>,
  key: string,
  value: string,
  now: string,
): Promise<void> {
  await db
    .insertInto('settings')
    .values({ key, value, updated_at: now })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute()
}

/** Every settings row whose key starts with `prefix`. */
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
  // LIKE reads `_` as any one character: keep the exact prefix only.
  return rows.filter((r) => r.key.startsWith(prefix))
}
