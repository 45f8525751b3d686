import { constants } from 'node:fs'
import { chmod, link, lstat, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, extname, join } from 'node:path'
import type { Ctx } from '../context.js'
import { configError } from '../core/errors.js'
import { batchesByReference, type OutboxBatch, processingFileBatches } from './outbox-store.js'

/**
 * $DSH_HOME/outbox holds the bank files of transfers that are to be paid, and nothing else:
 * whoever uploads the folder to the bank portal pays every file in it. A cancelled or failed
 * batch's files move to `outbox/void/` (after its status is committed: a crash in between leaves
 * them behind, and `dsh settle` moves them at its start, `dsh doctor` reports them). Files of
 * completed batches stay where they were written, as the record of what was sent.
 */

/** A settlement file's name: its batch's reference and `.csv` or `.xml`. */
const FILE_NAME = /^(SETTLEMENT-[A-Za-z0-9]+)\.(csv|xml)$/

const isErrno = (err: unknown, code: string) => (err as NodeJS.ErrnoException)?.code === code

/**
 * A folder dsh keeps bank files in, made 0700 when `create` (else undefined when absent). A
 * symbolic link is refused (exit 7) and never followed or chmod-ed: the folder is opened with
 * O_NOFOLLOW and its mode set through that handle.
 */
async function privateDir(path: string, create: boolean): Promise<string | undefined> {
  if (create) await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  if (create)
    await mkdir(path, { mode: 0o700 }).catch((err: unknown) => {
      if (!isErrno(err, 'EEXIST')) throw err
    })
  let fh: Awaited<ReturnType<typeof open>>
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW)
  } catch (err) {
    if (isErrno(err, 'ENOENT') && !create) return undefined
    if (isErrno(err, 'ELOOP') || (await lstat(path).catch(() => undefined))?.isSymbolicLink())
      throw configError(
        'outbox_symlink',
        `${path} is a symbolic link; dsh writes bank files only into a real folder and never follows a link there`,
        `replace it with a folder: move its files, then \`rm ${path} && mkdir -m 700 ${path}\``,
      )
    if (isErrno(err, 'ENOTDIR'))
      throw configError('outbox_not_folder', `${path} is not a folder`, 'move it away')
    throw err
  }
  try {
    await fh.chmod(0o700)
  } finally {
    await fh.close()
  }
  return path
}

/** $DSH_HOME/outbox (made 0700 when `create`; undefined when absent). */
export const outboxDir = (home: string, create = false) => privateDir(join(home, 'outbox'), create)

/**
 * Writes `<reference>.csv` and `.xml` into $DSH_HOME/outbox (0700), each 0600, flushed to disk
 * and then renamed into place. Asynchronous, so a run's batches wait for their disks together.
 */
export async function writeOutbox(
  home: string,
  reference: string,
  content: { csv: string; xml: string },
): Promise<string[]> {
  const dir = (await outboxDir(home, true)) as string
  return Promise.all(
    (
      [
        ['csv', content.csv],
        ['xml', content.xml],
      ] as const
    ).map(async ([ext, text]) => {
      const final = join(dir, `${reference}.${ext}`)
      const temp = join(dir, `.${reference}.${ext}.${process.pid}.tmp`)
      const fh = await open(temp, 'w', 0o600)
      try {
        await fh.writeFile(text)
        await fh.sync()
      } finally {
        await fh.close()
      }
      await chmod(temp, 0o600)
      await rename(temp, final)
      return final
    }),
  )
}

/** The files of a batch that are in the outbox now: the ones it recorded and its reference's. */
async function filesOf(dir: string, b: OutboxBatch): Promise<string[]> {
  const recorded = b.transfer_files ? (JSON.parse(b.transfer_files) as string[]) : []
  const names = new Set([
    ...recorded.filter((f) => dirname(f) === dir).map((f) => basename(f)),
    `${b.reference}.csv`,
    `${b.reference}.xml`,
  ])
  const here: string[] = []
  for (const name of [...names].sort()) {
    const st = await lstat(join(dir, name)).catch(() => undefined)
    if (st?.isFile()) here.push(join(dir, name))
  }
  return here
}

/**
 * Moves a file into `to` under its own name, or `<stem>.1<ext>`, `.2` … when that name is taken:
 * a hard link (which fails rather than replace an existing file), then the old name goes. A crash
 * between the two leaves both names on one file; the next move sees that and only unlinks.
 */
async function moveNoClobber(file: string, to: string): Promise<string | undefined> {
  const ext = extname(file)
  const stem = basename(file, ext)
  const src = await stat(file).catch(() => undefined)
  if (!src) return undefined // another dsh moved it meanwhile
  for (let n = 0; ; n++) {
    const dest = join(to, n === 0 ? `${stem}${ext}` : `${stem}.${n}${ext}`)
    try {
      await link(file, dest)
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined // moved by another dsh meanwhile
      if (!isErrno(err, 'EEXIST')) throw err
      const there = await stat(dest).catch(() => undefined)
      if (!(there && there.ino === src.ino && there.dev === src.dev)) continue
    }
    await chmod(dest, 0o600)
    await unlink(file).catch((err: unknown) => {
      if (!isErrno(err, 'ENOENT')) throw err
    })
    return dest
  }
}

/** Flushes a folder's entries (the moves) to disk. */
async function syncDir(path: string): Promise<void> {
  const fh = await open(path, constants.O_RDONLY | constants.O_DIRECTORY)
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/**
 * Moves a cancelled or failed batch's files from the outbox to `outbox/void/` (0700; files stay
 * 0600; nothing there is ever replaced). Returns where they went; [] when none was left.
 */
export async function voidBatchFiles(home: string, b: OutboxBatch): Promise<string[]> {
  const dir = await outboxDir(home)
  if (!dir) return []
  const files = await filesOf(dir, b)
  if (files.length === 0) return []
  const voidDir = (await privateDir(join(dir, 'void'), true)) as string
  const moved: string[] = []
  for (const f of files) {
    const dest = await moveNoClobber(f, voidDir)
    if (dest) moved.push(dest)
  }
  await syncDir(voidDir)
  await syncDir(dir)
  return moved
}

/** The settlement files directly in the outbox, by their batch reference. */
async function outboxEntries(dir: string) {
  const entries = await readdir(dir, { withFileTypes: true })
  return entries
    .filter((e) => !e.name.startsWith('.'))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((e) => ({ entry: e, path: join(dir, e.name), ref: FILE_NAME.exec(e.name)?.[1] }))
}

/**
 * Moves the files of every cancelled or failed batch still in the outbox to `outbox/void/` (a
 * crash between a cancel's commit and its move leaves them there). Returns the new paths.
 */
export async function voidLeftovers(ctx: Ctx): Promise<string[]> {
  const dir = await outboxDir(ctx.home)
  if (!dir) return []
  const refs = [
    ...new Set((await outboxEntries(dir)).flatMap((e) => (e.ref ? [e.ref] : []))),
  ].sort()
  if (refs.length === 0) return []
  const store = await ctx.store()
  const dead = (await batchesByReference(store.db, refs)).filter((b) => VOID_STATUSES.has(b.status))
  const moved: string[] = []
  for (const b of dead) moved.push(...(await voidBatchFiles(ctx.home, b)))
  return moved
}

const VOID_STATUSES = new Set(['cancelled', 'failed'])

/**
 * `dsh doctor`'s look at the outbox: a file of a cancelled or failed batch, a file no batch of
 * this store wrote, anything that is not a plain file, and a `processing` file batch whose files
 * are gone. Each finding says what to do.
 */
export async function checkOutbox(ctx: Ctx): Promise<{ files: number; findings: string[] }> {
  const findings: string[] = []
  const store = await ctx.store()
  const dir = await outboxDir(ctx.home)
  let files = 0
  if (dir) {
    const entries = await outboxEntries(dir)
    const refs = [...new Set(entries.flatMap((e) => (e.ref ? [e.ref] : [])))]
    const byRef = new Map((await batchesByReference(store.db, refs)).map((b) => [b.reference, b]))
    for (const e of entries) {
      if (e.entry.isDirectory() && (e.entry.name === 'void' || e.entry.name === 'sent')) continue
      files++
      if (!e.entry.isFile()) {
        findings.push(
          `outbox: ${e.path} is not a plain file; the outbox holds only bank files (move it away)`,
        )
        continue
      }
      const b = e.ref ? byRef.get(e.ref) : undefined
      if (!b)
        findings.push(
          `outbox: ${e.path} is not a file of any settlement batch in this store; whoever uploads the outbox would send it (move it away)`,
        )
      else if (VOID_STATUSES.has(b.status))
        findings.push(
          `outbox: ${e.path} belongs to batch ${b.id} (${b.reference}), which is ${b.status}: it must not be uploaded; \`dsh settle\` moves it to outbox/void/`,
        )
    }
  }
  for (const b of await processingFileBatches(store.db)) {
    const recorded = b.transfer_files ? (JSON.parse(b.transfer_files) as string[]) : []
    for (const f of recorded) {
      // Where it was written, or the outbox by its name (a DSH_HOME moved since).
      const here = [f, ...(dir ? [join(dir, basename(f))] : [])]
      const found = await Promise.all(here.map((p) => lstat(p).catch(() => undefined)))
      if (!found.some((st) => st?.isFile()))
        findings.push(
          `batch ${b.id} (${b.reference}) is processing but its file ${f} is missing: find out whether it was uploaded to the bank, then \`dsh settlements complete\` or \`dsh settlements cancel\` it`,
        )
    }
  }
  return { files, findings }
}
