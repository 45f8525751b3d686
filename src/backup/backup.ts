import {
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import type { Ctx } from '../context.js'
import { conflict, DshError } from '../core/errors.js'
import { isPostgresUrl, type Store } from '../store/connect.js'
import { backupMacKey } from '../vault/mac-keys.js'
import { keyRing } from '../vault/vault.js'
import { VERSION } from '../version.js'
import { type CopyFacts, describeCopyOffThread } from './copy-facts.js'
import {
  type BackupManifest,
  manifestMac,
  manifestPath,
  sha256File,
  writeManifest,
} from './manifest.js'
import { pgDump } from './pg.js'

export interface BackupResult {
  file: string
  manifestFile: string
  manifest: BackupManifest
  /** Where the master key is: it is never in a backup and must be kept apart. */
  masterKey: string
}

/** `20261129T021500Z`: sorts by time, safe in file names on every system. */
export const stamp = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')

/** With milliseconds (`20261129T021500123Z`): two backups in one second get two names. */
const backupStamp = (d: Date) => d.toISOString().replace(/[-:.]/g, '')

export const backupsDir = (ctx: Ctx) => join(ctx.home, 'backups')

/** Where the master key is, in words for the person taking the backup. */
export const keyWhere = (ctx: Ctx) =>
  ctx.env['DSH_MASTER_KEY']
    ? 'the DSH_MASTER_KEY environment variable'
    : join(ctx.home, 'master.key')

/**
 * `dsh backup`: a consistent copy of the store (SQLite's online backup API on the live
 * connection, safe while the daemon writes; `pg_dump` of one snapshot on PostgreSQL), checked,
 * with a manifest beside it. Written under temporary names: a backup is whole or absent.
 */
export async function takeBackup(
  ctx: Ctx,
  dbSpec: string,
  opts: { to?: string | undefined } = {},
): Promise<BackupResult> {
  const store = await ctx.store()
  const pg = isPostgresUrl(dbSpec)
  const file = resolve(
    opts.to ?? join(backupsDir(ctx), `dsh-${backupStamp(ctx.clock.now())}.${pg ? 'dump' : 'db'}`),
  )
  if (existsSync(file) || existsSync(manifestPath(file)))
    throw conflict('backup_exists', `${file} already exists`, 'give another --to, or move it away')
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const tmp = `${file}.partial`
  rmSync(tmp, { force: true })
  // Made first with 0600: the copy holds payments and phone numbers, never readable by others.
  writeFileSync(tmp, '', { mode: 0o600 })
  const key = keyRing(ctx).primary
  const masterKeyId = key.id
  try {
    const facts = pg ? await pgDump(store, dbSpec, tmp, ctx.env) : await sqliteCopy(store, tmp)
    renameSync(tmp, file)
    const manifest: BackupManifest = {
      format: 'dsh-backup/1',
      dshVersion: VERSION,
      dialect: pg ? 'postgres' : 'sqlite',
      schema: { latest: facts.migrations.at(-1) ?? '', migrations: facts.migrations.length },
      createdAt: ctx.clock.now().toISOString(),
      file: basename(file),
      ...(await sha256File(file)),
      rowCounts: facts.rowCounts,
      auditHead: facts.auditHead,
      masterKeyId,
    }
    // Signed last, over every field: a manifest edited afterwards (a recomputed SHA-256 for an
    // edited copy) no longer verifies.
    manifest.mac = manifestMac(manifest, backupMacKey(key))
    writeManifest(file, manifest)
    return { file, manifestFile: manifestPath(file), manifest, masterKey: keyWhere(ctx) }
  } finally {
    rmSync(tmp, { force: true })
  }
}

/** The copy is checked and described from itself (on a worker thread: see copy-facts.ts). */
async function sqliteCopy(store: Store, tmp: string): Promise<CopyFacts> {
  if (!store.copyTo) throw new DshError('internal', 'no_copy', 'this store cannot be copied')
  await store.copyTo(tmp)
  return describeCopyOffThread(tmp)
}

/** Backups in the default folder, newest first (by the time in their names). */
export function listBackups(ctx: Ctx): string[] {
  const dir = backupsDir(ctx)
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter(
      (f) =>
        /^dsh-\d{8}T\d{6}(\d{3})?Z\.(db|dump)$/.test(f) && existsSync(manifestPath(join(dir, f))),
    )
    .sort()
    .reverse()
    .map((f) => join(dir, f))
}

/** Keeps the newest `keep` backups of the default folder; returns the ones removed. */
export function pruneBackups(ctx: Ctx, keep: number): string[] {
  const old = listBackups(ctx).slice(keep)
  for (const f of old) {
    rmSync(manifestPath(f), { force: true })
    rmSync(f, { force: true })
  }
  return old
}

/** When the newest backup of the default folder was taken, or null. */
export function lastBackupAt(ctx: Ctx): Date | null {
  const newest = listBackups(ctx)[0]
  return newest ? statSync(newest).mtime : null
}
