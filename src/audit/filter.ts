import { fieldError } from '../core/errors.js'
import { DEFAULT_TIMEZONE, parseInstantRange } from '../core/time.js'
import { parseSlug } from '../core/validate.js'
import type { AuditFilter } from './audit-store.js'

/**
 * The filter of `audit list`: branch, action, and `since` (included) / `until` (excluded) read in
 * `zone` at `now` (see core/time.ts). The window (limit/all) is parsed apart (core/list.ts).
 */
export function parseAuditFilter(
  opts: {
    branch?: string | undefined
    since?: string | undefined
    until?: string | undefined
    action?: string | undefined
  },
  zone: string = DEFAULT_TIMEZONE,
  now: Date = new Date(0),
): AuditFilter {
  const f: AuditFilter = {}
  if (opts.branch) f.branch = parseSlug(opts.branch, 'branch code')
  if (opts.action) {
    if (!/^[a-z-]+(\.[a-z-]+)*\*?$|^[a-z-]+\.\*$/.test(opts.action))
      throw fieldError(
        'validation',
        'invalid_action',
        ['action'],
        `action "${opts.action}" is not an action name`,
        'e.g. gateway.create or gateway.*',
      )
    f.action = opts.action
  }
  const range = parseInstantRange(opts, zone, now)
  if (range.since) f.since = range.since.toISOString()
  if (range.until) f.until = range.until.toISOString()
  return f
}
