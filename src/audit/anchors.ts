import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { getSetting } from '../admin/settings.js'
import type { Ctx } from '../context.js'
import { notFound, validationError } from '../core/errors.js'
import type { AuditAnchor, AuditHeadView } from './audit.js'

export const ANCHORS_SETTING = 'audit_anchors_path'

/** Where the daemon appends the daily audit head: `audit-anchors` if set, else in DSH_HOME. */
export async function anchorsPath(ctx: Ctx): Promise<string> {
  const store = await ctx.store()
  return (await getSetting(store.db, ANCHORS_SETTING)) ?? join(ctx.home, 'audit-anchors.log')
}

/** `<seq>:<hash>` as `--expect` takes it. */
export function parseExpect(text: string): AuditAnchor {
  const m = /^(\d{1,12}):([0-9a-f]{64})$/.exec(text.trim())
  if (!m)
    throw validationError(
      'invalid_anchor',
      `"${text.slice(0, 100)}" is not <seq>:<hash>`,
      'use the seq and hash that `dsh audit head` printed, e.g. 42:3f0c…(64 hex digits)',
    )
  return { seq: Number(m[1]), hash: m[2]! }
}

/** An anchors file gains one short line a day: 16 MiB is centuries of them, and /dev/zero is refused. */
export const ANCHORS_LIMIT = 16 * 1024 * 1024

/** The file's text, refused as soon as it passes `limit` bytes (never read whole into memory). */
function readCapped(path: string, limit: number): string {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw validationError('anchors_unreadable', `cannot read the anchors file ${path} (${code})`)
  }
  const chunks: Buffer[] = []
  let total = 0
  try {
    for (;;) {
      const buf = Buffer.alloc(Math.min(1 << 20, limit + 1 - total))
      let n: number
      try {
        n = readSync(fd, buf, 0, buf.length, null)
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code
        throw validationError(
          'anchors_unreadable',
          `cannot read the anchors file ${path} (${code})`,
        )
      }
      if (n === 0) break
      total += n
      if (total > limit)
        throw validationError(
          'anchors_too_large',
          `${path} is larger than ${limit / 1024 / 1024} MiB: not an anchors file`,
          'give the file the daemon appends the audit head to (audit-anchors.log)',
        )
      chunks.push(buf.subarray(0, n))
    }
  } finally {
    closeSync(fd)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * Every anchor of an anchors file: JSON objects one after another, one per line as the daemon
 * writes them or pretty-printed as `dsh audit head --json` prints them. A bad entry names
 * file:line; a file with no anchor in it is refused (exit 3), never "intact" with nothing checked.
 */
export function readAnchors(path: string): AuditAnchor[] {
  if (!existsSync(path)) throw notFound('anchors_missing', `no anchors file at ${path}`)
  const out: AuditAnchor[] = []
  let entries = 0
  const bad = (line: number) =>
    validationError(
      'invalid_anchor',
      `${path}:${line}: not an audit anchor (expected {"seq":…,"hash":…,"at":…})`,
    )
  let buffer = ''
  let startLine = 0
  readCapped(path, ANCHORS_LIMIT)
    .split('\n')
    .forEach((line, i) => {
      if (buffer === '' && line.trim() === '') return
      if (buffer === '') startLine = i + 1
      buffer += `${line}\n`
      let v: { seq?: unknown; hash?: unknown }
      try {
        v = JSON.parse(buffer) as { seq?: unknown; hash?: unknown }
      } catch {
        if (buffer.split('\n').length > 20) throw bad(startLine)
        return
      }
      buffer = ''
      if (typeof v.seq !== 'number' || typeof v.hash !== 'string') throw bad(startLine)
      entries++
      if (v.seq === 0) return
      out.push(parseExpect(`${v.seq}:${v.hash}`))
    })
  if (buffer.trim() !== '') throw bad(startLine)
  if (out.length === 0)
    throw validationError(
      'no_anchors',
      entries === 0
        ? `no anchors in ${path}: the file is empty, so nothing could be checked`
        : `no anchors in ${path}: its ${entries} entr${entries === 1 ? 'y is' : 'ies are'} of an empty audit log, so nothing could be checked`,
      'give the file the daemon appends the audit head to, or use --expect <seq>:<hash>',
    )
  return out
}

/** Appends the head as one line (the daemon does this daily; the file may be on another disk). */
export function appendAnchor(path: string, head: AuditHeadView, writtenAt: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  appendFileSync(
    path,
    `${JSON.stringify({ seq: head.seq, hash: head.hash, at: head.at, writtenAt })}\n`,
    {
      mode: 0o600,
    },
  )
}
