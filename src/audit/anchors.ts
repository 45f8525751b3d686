import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
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

/**
 * Every anchor of an anchors file: JSON objects one after another, one per line as the daemon
 * writes them or pretty-printed as `dsh audit head --json` prints them. A bad entry names file:line.
 */
export function readAnchors(path: string): AuditAnchor[] {
  if (!existsSync(path)) throw notFound('anchors_missing', `no anchors file at ${path}`)
  const out: AuditAnchor[] = []
  const bad = (line: number) =>
    validationError(
      'invalid_anchor',
      `${path}:${line}: not an audit anchor (expected {"seq":…,"hash":…,"at":…})`,
    )
  let buffer = ''
  let startLine = 0
  readFileSync(path, 'utf8')
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
      if (v.seq === 0) return
      out.push(parseExpect(`${v.seq}:${v.hash}`))
    })
  if (buffer.trim() !== '') throw bad(startLine)
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
