import type { Ctx } from '../context.js'
import { usageError } from '../core/errors.js'
import type { GatewayCallResult } from '../core/payments/gateway-port.js'
import { adapterFor } from '../gateway-config/adapters.js'
import { branchGateways } from '../gateway-config/in-force.js'
import { findBranchById } from '../tenants/branches.js'
import { applyOutcomeLocked, reviewLocked } from './apply-outcome.js'
import {
  claimRecoveryCheck,
  listAttempts,
  listDueForRecovery,
  type PaymentRow,
} from './payments-store.js'

/**
 * Lost-callback recovery (PRODUCT.md, ORCHESTRATION.md): an open payment is asked about at fixed
 * offsets after its push; when the last one passes without a final answer it goes to
 * `needs_review`. Offsets are from the push, so a daemon that was down catches up at once.
 */
export interface RecoverySchedule {
  /** pending (and created) payments: 30 s, 60 s, 120 s, 180 s by default. */
  pendingMs: readonly number[]
  /** unknown payments (the push may have charged): every hour for 24 h by default. */
  unknownMs: readonly number[]
}

export const DEFAULT_RECOVERY: RecoverySchedule = {
  pendingMs: [30_000, 60_000, 120_000, 180_000],
  unknownMs: Array.from({ length: 24 }, (_, i) => (i + 1) * 3_600_000),
}

/** pay() and applyAttemptResult() put a new payment's first check 30 s after the push. */
const FIRST_CHECK_MS = 30_000
const OPEN = ['created', 'pending', 'unknown'] as const

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** "90s", "2m", "1h", "500ms" → milliseconds. */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(text.trim())
  if (!m || Number(m[1]) === 0)
    throw usageError(
      'invalid_duration',
      `${what}: "${text}" is not a duration`,
      'use a whole number with ms, s, m, h or d, e.g. 30s or 2m',
    )
  return Number(m[1]) * UNITS[m[2]!]!
}

/**
 * A recovery schedule: offsets after the push, e.g. "30s,60s,120s,180s", or "every/until" such as
 * "1h/24h" (1 h, 2 h, … 24 h). Offsets must increase.
 */
export function parseSchedule(text: string, what: string): number[] {
  const t = text.trim()
  let out: number[]
  if (t.includes('/')) {
    const [every = '', until = ''] = t.split('/')
    const step = parseDuration(every, what)
    const end = parseDuration(until, what)
    if (end < step || end / step > 10_000)
      throw usageError('invalid_schedule', `${what}: "${text}" needs every ≤ until (≤ 10000 steps)`)
    out = Array.from({ length: Math.floor(end / step) }, (_, i) => (i + 1) * step)
  } else {
    out = t.split(',').map((s) => parseDuration(s, what))
  }
  if (out.length === 0 || out.some((v, i) => i > 0 && v <= out[i - 1]!))
    throw usageError(
      'invalid_schedule',
      `${what}: "${text}" must list increasing offsets`,
      'e.g. 30s,60s,120s,180s or 1h/24h',
    )
  return out
}

/** The next check after `nowMs` (an offset after the push), or null when the schedule is over. */
export function nextCheckAt(
  offsets: readonly number[],
  pushAtMs: number,
  nowMs: number,
): number | null {
  for (const o of offsets) if (pushAtMs + o > nowMs) return pushAtMs + o
  return null
}

export interface RecoveryReport {
  checked: number
  resolved: number
  reviewed: number
  rescheduled: number
  errors: number
}

export interface RecoveryOptions {
  schedule: RecoverySchedule
  /** At most this many payments per run (the next run takes the rest). */
  batch?: number
  /** After the last check, how long the claim holds before another run may retry it (10 s). */
  leaseMs?: number
  actor?: string
}

/**
 * One run of the recovery job: every open payment whose check is due is claimed (so two daemons,
 * or two overlapping runs, never ask about it twice) and asked about once.
 */
export async function runRecovery(ctx: Ctx, opts: RecoveryOptions): Promise<RecoveryReport> {
  const store = await ctx.store()
  const nowMs = ctx.clock.now().getTime()
  const first = opts.schedule.pendingMs[0] ?? FIRST_CHECK_MS
  const horizon = new Date(nowMs + Math.max(0, FIRST_CHECK_MS - first)).toISOString()
  const candidates = await listDueForRecovery(store.db, OPEN, horizon, opts.batch ?? 200)
  const report: RecoveryReport = { checked: 0, resolved: 0, reviewed: 0, rescheduled: 0, errors: 0 }
  for (const p of candidates) {
    const attempts = await listAttempts(store.db, p.id)
    const attempt = [...attempts]
      .reverse()
      .find((a) => ['pending', 'unknown', 'sending'].includes(a.status))
    const pushAtMs = Date.parse(attempt?.created_at ?? p.created_at)
    const offsets = p.status === 'unknown' ? opts.schedule.unknownMs : opts.schedule.pendingMs
    const stored = Date.parse(p.next_check_at ?? '')
    const dueAt = p.check_count === 0 ? Math.min(stored, pushAtMs + (offsets[0] ?? 0)) : stored
    if (dueAt > nowMs) continue
    // Claim by moving the payment to its next scheduled check: only the run whose update lands
    // asks the gateway, and if this process dies mid-query the schedule simply goes on. After the
    // last check a short lease stands in, until the payment is sent to review.
    const next = nextCheckAt(offsets, pushAtMs, nowMs)
    const claimed = await claimRecoveryCheck(
      store.db,
      p,
      new Date(next ?? nowMs + (opts.leaseMs ?? 10_000)).toISOString(),
    )
    if (!claimed) continue
    report.checked++
    try {
      const r = await recoverOne(ctx, p, attempt ?? null, pushAtMs, next, nowMs, opts)
      report[r]++
    } catch (err) {
      report.errors++
      ctx.warn(`recovery of ${p.id} failed: ${(err as Error).message}`)
    }
  }
  return report
}

async function recoverOne(
  ctx: Ctx,
  p: PaymentRow,
  attempt: {
    id: string
    gateway: string
    gateway_ref: string | null
    secondary_ref: string | null
  } | null,
  pushAtMs: number,
  next: number | null,
  nowMs: number,
  opts: RecoveryOptions,
): Promise<'resolved' | 'reviewed' | 'rescheduled'> {
  const store = await ctx.store()
  const actor = opts.actor ?? 'daemon:recovery'
  const branch = await findBranchById(store.db, p.branch_id)
  if (!branch) throw new Error(`the branch of payment ${p.id} is missing`)
  const gw = attempt
    ? (await branchGateways(store.db, branch)).find((g) => g.type === attempt.gateway)
    : undefined
  let result: GatewayCallResult | undefined
  let why: string
  if (!attempt) why = 'no gateway attempt is open for it'
  else if (!gw) why = `branch ${branch.code} no longer has a ${attempt.gateway} configuration`
  else {
    result = await (await adapterFor(ctx, gw)).query(attempt.id, {
      gatewayRef: attempt.gateway_ref ?? undefined,
      secondaryRef: attempt.secondary_ref ?? undefined,
    })
    why = `${gw.type}: ${result.outcome.message}${result.outcome.code ? ` (${result.outcome.code})` : ''}`
  }
  const o = result?.outcome
  if (
    attempt &&
    gw &&
    result &&
    o &&
    (o.status === 'succeeded' || (o.status === 'failed' && o.kind === 'declined'))
  ) {
    await store.write((trx) =>
      applyOutcomeLocked(ctx, trx, {
        paymentId: p.id,
        attemptId: attempt.id,
        branch,
        gw,
        outcome: o,
        reason: `recovery query: ${why}`,
        log: result.log,
        actor,
      }),
    )
    return 'resolved'
  }
  if (next !== null) return 'rescheduled'
  const r = await store.write((trx) =>
    reviewLocked(ctx, trx, {
      paymentId: p.id,
      branch,
      reason: `no final answer after ${p.check_count + 1} recovery checks over ${Math.round((nowMs - pushAtMs) / 1000)} s (last: ${why})`,
      actor,
    }),
  )
  return r.kind === 'moved' ? 'reviewed' : 'resolved'
}
