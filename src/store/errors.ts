/** True for a UNIQUE/PRIMARY KEY violation on either SQLite or PostgreSQL. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return (
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    code === '23505'
  )
}

/** True when the store refused a write because it is read-only (file, mount or server setting). */
export function isReadOnlyStore(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return (typeof code === 'string' && code.startsWith('SQLITE_READONLY')) || code === '25006'
}
