import {
  chmodSync,
  closeSync,
  existsSync,
  fchmodSync,
  fsyncSync,
  linkSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { configError, conflict, DshError } from '../core/errors.js'
import { isPostgresUrl, openStore, type Store } from '../store/connect.js'
import { acquireSqliteDaemonLock, daemonLockHolder } from '../store/daemon-lock.js'
import { migrateToLatest } from '../store/migrate.js'
import { reencryptStore } from '../vault/keys.js'
import { keyRing } from '../vault/vault.js'
import { stamp } from './backup.js'
import { type BackupManifest, sha256File } from './manifest.js'
import { pgRestore } from './pg.js'
import { ringFor, verifyBackup } from './verify.js'

export interface RestoreResult {
  file: string
  restoredTo: string
  /** The store that was there before, kept (never deleted by dsh); null on PostgreSQL. */
  movedAside: string | null
  manifest: BackupManifest
  /** Secrets re-encrypted from the backup's master key to the current one. */
  reencrypted: number
  /** True when an unsigned backup was restored with --accept-unsigned (audited as such). */
  unsigned: boolean
}

/**
 * The backup's bytes into a new file made 0600, whatever the backup's own mode (copyFile would
 * carry a 0644 backup's mode over to the store).
 */
function copyPrivate(from: string, to: string): void {
  const src = openSync(from, 'r')
  try {
    const dst = openSync(to, 'wx', 0o600)
    try {
      fchmodSync(dst, 0o600)
      const buf = Buffer.alloc(1 << 20)
      for (;;) {
        const n = readSync(src, buf, 0, buf.length, null)
        if (n === 0) break
        let off = 0
        while (off < n) off += writeSync(dst, buf, off, n - off)
      }
      fsyncSync(dst)
    } finally {
      closeSync(dst)
    }
  } finally {
    closeSync(src)
  }
}

/** What is put in place is what was verified: a file swapped after the check is refused. */
async function copyVerified(file: string, to: string, manifest: BackupManifest): Promise<void> {
  copyPrivate(file, to)
  if ((await sha256File(to)).sha256 !== manifest.sha256)
    throw new DshError(
      'findings',
      'backup_invalid',
      `not restoring ${file}: it changed while it was being restored`,
      { hint: 'nothing was changed; check it with `dsh backup verify`' },
    )
}

/** The store and its -wal/-shm are the user's alone after a restore. */
function makePrivate(db: string): void {
  for (const ext of ['', '-wal', '-shm'])
    if (existsSync(`${db}${ext}`)) chmodSync(`${db}${ext}`, 0o600)
}

/** A refused backup: 8 for what is wrong with it, 7 when only a key file is missing. */
function refusal(file: string, check: Awaited<ReturnType<typeof verifyBackup>>): DshError {
  if (check.code === 'master_key_needed' && check.needsKeyId)
    return configError(
      'master_key_needed',
      `the backup was taken under master key ${check.needsKeyId}, which this store does not hold`,
      'give that key with --master-key-file <path> (its secrets are then re-encrypted under the current key)',
    )
  if (check.code === 'backup_key_unknown')
    return configError(
      'backup_key_unknown',
      `not restoring ${file}: ${check.problem}`,
      'nothing was changed',
    )
  return new DshError(
    'findings',
    check.code ?? 'backup_invalid',
    `not restoring ${file}: ${check.problem}`,
    {
      hint:
        check.code === 'backup_unsigned'
          ? 'nothing was changed; a backup made before dsh signed them restores only with --accept-unsigned (audited)'
          : 'nothing was changed; check it with `dsh backup verify`',
    },
  )
}

const fsyncPath = (path: string) => {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * `dsh restore`: verifies the backup first (a bad one changes nothing), refuses while a daemon
 * holds the store, asks, moves the current store aside, puts the copy in place with one rename,
 * re-encrypts secrets taken under an older master key, and records the restore in the audit log.
 */
export async function restoreBackup(
  ctx: Ctx,
  dbSpec: string,
  fileIn: string,
  opts: {
    yes?: boolean | undefined
    masterKeyFile?: string | undefined
    acceptUnsigned?: boolean | undefined
  },
): Promise<RestoreResult> {
  const file = resolve(fileIn)
  const check = await verifyBackup(ctx, file, { ...opts, serverUrl: dbSpec })
  if (!check.ok || !check.manifest) throw refusal(file, check)
  const manifest = check.manifest
  const unsigned = check.signature === 'unsigned'
  const pg = isPostgresUrl(dbSpec)
  if ((manifest.dialect === 'postgres') !== pg)
    throw configError(
      'backup_wrong_dialect',
      `${file} is a ${manifest.dialect} backup; the store is ${pg ? 'PostgreSQL' : 'SQLite'}`,
    )
  const ring = ringFor(ctx, opts.masterKeyFile)
  if (pg) {
    await ctx.ask.confirm(
      `replace every table of the configured PostgreSQL database with the backup taken ${manifest.createdAt}`,
      opts.yes === true,
    )
    // pg_restore reads a private copy checked against the manifest, not the file verified
    // moments ago (which could be swapped meanwhile).
    const copy = join(ctx.home, `${basename(file)}.restore-${stamp(ctx.clock.now())}`)
    try {
      await copyVerified(file, copy, manifest)
      await pgRestore(dbSpec, copy, ctx.env)
    } finally {
      rmSync(copy, { force: true })
    }
    const reencrypted = await afterRestore(ctx, dbSpec, file, manifest, ring, unsigned)
    return { file, restoredTo: dbSpec, movedAside: null, manifest, reencrypted, unsigned }
  }
  const db = resolve(dbSpec)
  const holder = await daemonLockHolder(db)
  if (holder)
    throw conflict(
      'daemon_running',
      `a dsh daemon (pid ${String(holder['pid'] ?? '?')}) holds the store at ${db}`,
      'stop the daemon (SIGTERM) before restoring, then start it again',
    )
  // Held for the whole restore, so no daemon starts on a half-swapped store.
  const lock = await acquireSqliteDaemonLock(db, { pid: process.pid, restoring: file })
  let tmp: string | undefined
  try {
    await ctx.ask.confirm(
      `replace the store at ${db} with the backup taken ${manifest.createdAt}`,
      opts.yes === true,
    )
    const at = stamp(ctx.clock.now())
    tmp = `${db}.restore-${at}`
    await copyVerified(file, tmp, manifest)
    const aside = `${db}.pre-restore-${at}`
    let movedAside: string | null = null
    if (existsSync(db)) {
      linkSync(db, aside)
      movedAside = aside
    }
    // The old WAL must go with the old file: replayed onto the copy it would corrupt it.
    for (const ext of ['-wal', '-shm'])
      if (existsSync(`${db}${ext}`)) renameSync(`${db}${ext}`, `${aside}${ext}`)
    renameSync(tmp, db)
    fsyncPath(dirname(db))
    const reencrypted = await afterRestore(ctx, db, file, manifest, ring, unsigned)
    makePrivate(db)
    return { file, restoredTo: db, movedAside, manifest, reencrypted, unsigned }
  } finally {
    lock.release()
    if (tmp) rmSync(tmp, { force: true })
  }
}

/** Migrates an older copy up, re-encrypts old-key secrets, and audits the restore. */
async function afterRestore(
  ctx: Ctx,
  dbSpec: string,
  file: string,
  manifest: BackupManifest,
  ring: ReturnType<typeof keyRing>,
  unsigned: boolean,
): Promise<number> {
  const store: Store = await openStore(dbSpec)
  try {
    await migrateToLatest(store)
    return await store.write(async (trx) => {
      const current = keyRing(ctx).primary
      const n =
        manifest.masterKeyId === current.id
          ? 0
          : await reencryptStore(trx, ring, current, ctx.clock.now().toISOString())
      await audit(ctx, trx, {
        action: 'store.restore',
        target: manifest.file,
        request: {
          file,
          takenAt: manifest.createdAt,
          auditHead: manifest.auditHead,
          fromKeyId: manifest.masterKeyId,
          toKeyId: current.id,
          reencrypted: n,
          // An unsigned backup was taken on the operator's word (--accept-unsigned): on record.
          ...(unsigned ? { acceptedUnsigned: true } : {}),
        },
      })
      return n
    })
  } finally {
    await store.close()
  }
}
