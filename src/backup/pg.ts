import { spawn } from 'node:child_process'
import { headOf } from '../audit/audit.js'
import { configError, DshError } from '../core/errors.js'
import type { Store } from '../store/connect.js'
import { redactUrl } from '../store/connect.js'
import { appliedMigrations, exportSnapshot, rowCounts } from './backup-store.js'
import type { CopyFacts } from './copy-facts.js'

type Env = Readonly<Record<string, string | undefined>>

/**
 * The URL without its password, and the environment carrying it: a password never appears on a
 * command line (other users can read those) or in dsh's output. It comes from the user-info
 * (`postgres://user:pw@host/db`) or the `password` parameter (`?password=pw`), which wins as it
 * does in libpq; either way it reaches the tool as PGPASSWORD only.
 */
export function connection(url: string, env: Env) {
  const u = new URL(url)
  const fromParam = u.searchParams.get('password')
  const password = fromParam ?? decodeURIComponent(u.password)
  u.password = ''
  for (const p of ['password', 'sslpassword']) u.searchParams.delete(p)
  const childEnv: Record<string, string> = {}
  for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v
  if (password) childEnv['PGPASSWORD'] = password
  return { url: u.toString(), env: childEnv, password }
}

/** Runs a PostgreSQL client tool; exit 7 naming what to install when it is not on the PATH. */
function run(tool: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      err += d
    })
    child.on('error', (e) => {
      reject(
        (e as NodeJS.ErrnoException).code === 'ENOENT'
          ? configError(
              'pg_tool_missing',
              `${tool} is not on the PATH: backups of a PostgreSQL store need it`,
              'install the PostgreSQL client tools of your server’s version (Debian: apt-get install postgresql-client)',
            )
          : e,
      )
    })
    child.on('close', (code) => {
      if (code === 0) resolve(out)
      else
        reject(
          new DshError(
            'config',
            `${tool}_failed`,
            `${tool} failed (exit ${code}): ${err.trim().slice(0, 500)}`,
          ),
        )
    })
  })
}

/**
 * `pg_dump --format=custom` of one snapshot: a repeatable-read transaction exports its snapshot,
 * pg_dump reads exactly that, and the counts and audit head are read in the same transaction.
 */
export async function pgDump(
  store: Store,
  url: string,
  file: string,
  env: Env,
): Promise<CopyFacts> {
  const c = connection(url, env)
  return store.db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      const id = await exportSnapshot(trx)
      await run(
        'pg_dump',
        [
          '--format=custom',
          '--no-password',
          `--snapshot=${id}`,
          `--file=${file}`,
          `--dbname=${c.url}`,
        ],
        c.env,
      ).catch((e) => {
        throw e instanceof DshError ? scrub(e, url) : e
      })
      const head = await headOf(trx)
      return {
        migrations: await appliedMigrations(trx),
        rowCounts: await rowCounts(trx),
        auditHead: { seq: head.seq, hash: head.hash },
      }
    })
}

/** `pg_restore --list`: the archive can be read whole. */
export async function pgList(file: string, env: Env): Promise<string> {
  return run('pg_restore', ['--list', file], connection('postgres://x@localhost/x', env).env)
}

/** The schema of a backup archive as SQL (`pg_restore --schema-only -f -`); reads no server. */
export async function pgSchemaOfArchive(file: string, env: Env): Promise<string> {
  return run(
    'pg_restore',
    ['--schema-only', '--no-owner', '--no-privileges', '--file=-', file],
    connection('postgres://x@localhost/x', env).env,
  )
}

/**
 * The rows of the tables that hold sealed values (settings, gateway and bank secrets) as
 * `pg_restore --data-only` writes them: the backup check reads the key ids their envelopes name.
 */
export async function pgSealedText(file: string, env: Env): Promise<string> {
  const tables = ['settings', 'gateway_configs', 'settlement_accounts'].map((t) => `--table=${t}`)
  return run(
    'pg_restore',
    ['--data-only', ...tables, '--file=-', file],
    connection('postgres://x@localhost/x', env).env,
  )
}

/** The schema of a database as SQL (`pg_dump --schema-only`), the password as PGPASSWORD. */
export async function pgSchemaOfDatabase(url: string, env: Env): Promise<string> {
  const c = connection(url, env)
  return run(
    'pg_dump',
    ['--schema-only', '--no-owner', '--no-privileges', '--no-password', `--dbname=${c.url}`],
    c.env,
  ).catch((e) => {
    throw e instanceof DshError ? scrub(e, url) : e
  })
}

/** Replaces the configured database's contents with the archive's. */
export async function pgRestore(url: string, file: string, env: Env): Promise<void> {
  const c = connection(url, env)
  await run(
    'pg_restore',
    [
      '--clean',
      '--if-exists',
      '--no-owner',
      '--no-password',
      '--single-transaction',
      `--dbname=${c.url}`,
      file,
    ],
    c.env,
  ).catch((e) => {
    throw e instanceof DshError ? scrub(e, url) : e
  })
}

/** A client tool's message may quote the connection string: never with its password. */
function scrub(e: DshError, url: string): DshError {
  const password = connection(url, {}).password || '\u0000'
  return new DshError(
    e.kind,
    e.code,
    e.message.replaceAll(password, '***').replaceAll(url, redactUrl(url)),
  )
}
