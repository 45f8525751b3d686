import { fieldError } from '../core/errors.js'
import { parseSlug } from '../core/validate.js'
import type { AuditFilter } from './audit-store.js'

const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/

export function parseAuditFilter(opts: {
  branch?: string | undefined
  since?: string | undefined
  action?: string | undefined
  limit?: string | undefined
}): AuditFilter {
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
  if (opts.since) {
    const d = new Date(opts.since)
    if (!DATE.test(opts.since) || Number.isNaN(d.getTime()))
      throw fieldError(
        'validation',
        'invalid_date',
        ['since'],
        `since "${opts.since}" is not a date`,
        'use ISO 8601, e.g. 2026-11-01 or 2026-11-01T08:00:00Z',
      )
    f.since = d.toISOString()
  }
  if (opts.limit) {
    if (!/^\d{1,7}$/.test(opts.limit) || Number(opts.limit) < 1)
      throw fieldError(
        'validation',
        'invalid_limit',
        ['limit'],
        `limit "${opts.limit}" must be a whole number from 1`,
      )
    f.limit = Number(opts.limit)
  }
  return f
}
