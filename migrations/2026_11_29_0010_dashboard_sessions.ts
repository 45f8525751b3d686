import type { Kysely } from 'kysely'

// Frozen once shipped. Dashboard sign-in: an API token exchanged for a session cookie. Only the
// SHA-256 of the cookie's value is stored; a session ends at `expires_at`, on logout
// (`ended_at`), or when its token is revoked.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('dashboard_sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('session_hash', 'text', (c) => c.notNull().unique())
    .addColumn('token_id', 'text', (c) => c.notNull().references('api_tokens.id'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('ended_at', 'text')
    .execute()
  await db.schema
    .createIndex('dashboard_sessions_token')
    .on('dashboard_sessions')
    .column('token_id')
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('dashboard_sessions').execute()
}
