import type { Kysely } from 'kysely'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { conflict, DshError, notFound } from '../core/errors.js'
import type { GatewayOutcome, ParsedCallback } from '../core/payments/gateway-port.js'
import { adapterFor } from '../gateway-config/adapters.js'
import { branchGateways } from '../gateway-config/in-force.js'
import { type ApplyResult, applyOutcomeLocked, reviewLocked } from '../payments/apply-outcome.js'
import { listEventsAfter } from '../payments/events.js'
import { listAttemptRefs } from '../payments/records.js'
import { matchSettlementCallback } from '../settlement/batches.js'
import type { Store } from '../store/connect.js'
import type { Database } from '../store/schema.js'
import { findBranchById } from '../tenants/branches.js'
import { createC2BPayment, decideC2B } from './c2b.js'
import {
  claimInbox,
  findInbox,
  type InboxRow,
  lockInbox,
  updateInbox,
  wakeUnmatched,
} from './inbox-store.js'
import { type Decision, decideForPayment, matchPayment, unknownShape } from './match.js'

export interface ProcessOptions {
  /** A verified callback matching no payment is retried this long, then orphaned (10 min). */
  unmatchedWindowMs: number
  /** A callback whose processing keeps failing is retried this long, then failed (1 h). */
  errorWindowMs?: number
  /** How long a claim lasts before another worker may take the entry over (30 s). */
  leaseMs?: number
  /** Timeline actor (`daemon:callback`). */
  actor?: string
}

export const DEFAULT_UNMATCHED_WINDOW_MS = 10 * 60_000
const DEFAULT_ERROR_WINDOW_MS = 60 * 60_000

export interface ProcessResult {
  id: string
  /** False when another worker holds the entry, or it is not due. */
  claimed: boolean
  status: string
  note: string | null
  paymentId: string | null
}

export async function processInboxEntry(
  ctx: Ctx,
  id: string,
  opts: ProcessOptions,
): Promise<ProcessResult> {
  const store = await ctx.store()
  const now = ctx.clock.now()
  const lease = new Date(now.getTime() + (opts.leaseMs ?? 30_000)).toISOString()
  const claimed = await claimInbox(store.db, id, now.toISOString(), lease)
  const entry = await findInbox(store.db, id)
  if (!entry) throw notFound('callback_not_found', `no callback "${id}"`)
  if (!claimed)
    return {
      id,
      claimed: false,
      status: entry.status,
      note: entry.note,
      paymentId: entry.payment_id,
    }
  return processClaimed(ctx, store, entry, opts)
}

async function processClaimed(
  ctx: Ctx,
  store: Store,
  entry: InboxRow,
  opts: ProcessOptions,
): Promise<ProcessResult> {
  let decision: Decision
  try {
    decision = await decide(ctx, store, entry)
  } catch (err) {
    decision = { kind: 'retry', error: (err as Error).message ?? String(err) }
  }
  return record(ctx, store, entry, decision, opts)
}

/**
 * `dsh callbacks replay`: processes an entry again now, whatever its status. It is claimed in
 * the same transaction that records the replay, so a daemon never processes it at the same time.
 */
export async function replayCallback(
  ctx: Ctx,
  id: string,
  opts: ProcessOptions,
): Promise<ProcessResult> {
  const store = await ctx.store()
  const now = ctx.clock.now()
  const nowIso = now.toISOString()
  const entry = await store.write(async (trx) => {
    const e = await lockInbox(trx, id.trim())
    if (!e) throw notFound('callback_not_found', `no callback "${id}"`, 'see `dsh callbacks list`')
    if (e.status === 'processing' && (e.lease_until ?? '') > nowIso)
      throw conflict(
        'callback_busy',
        `callback ${e.id} is being processed right now`,
        'try again in a minute',
      )
    const claim = {
      status: 'processing',
      lease_until: new Date(now.getTime() + (opts.leaseMs ?? 30_000)).toISOString(),
      attempts: e.attempts + 1,
      updated_at: nowIso,
    }
    await updateInbox(trx, e.id, claim)
    await audit(ctx, trx, {
      action: 'callback.replay',
      branch: await branchCode(trx, e.branch_id),
      target: e.id,
      request: { gateway: e.gateway, previousStatus: e.status },
    })
    return { ...e, ...claim }
  })
  return processClaimed(ctx, store, entry, opts)
}

/**
 * Wakes unmatched callbacks whose payment has appeared: reads the payment changes after
 * `afterSeq` from the events table, and makes every unmatched entry carrying one of their
 * gateway references due now. Returns the last event number read.
 */
export async function wakeMatchedCallbacks(
  ctx: Ctx,
  afterSeq: number,
): Promise<{ seq: number; woken: number }> {
  const store = await ctx.store()
  const events = await listEventsAfter(store.db, afterSeq, 1_000)
  const last = events.at(-1)
  if (!last) return { seq: afterSeq, woken: 0 }
  const ids = [...new Set(events.map((e) => e.payment_id).filter((id): id is string => !!id))]
  const refs = await listAttemptRefs(store.db, ids)
  const woken = await wakeUnmatched(store.db, refs, ctx.clock.now().toISOString())
  return { seq: Number(last.seq), woken }
}

async function branchCode(db: Kysely<Database>, id: string | null): Promise<string | null> {
  return id ? ((await findBranchById(db, id))?.code ?? null) : null
}

const UNMATCHED_RECHECKS_MS = [1_000, 5_000, 30_000]

const backoff = (attempts: number, baseMs: number, capMs: number) =>
  Math.min(capMs, baseMs * 2 ** Math.max(0, Math.min(attempts - 1, 20)))

async function record(
  ctx: Ctx,
  store: Store,
  e: InboxRow,
  d: Decision,
  opts: ProcessOptions,
): Promise<ProcessResult> {
  const now = ctx.clock.now()
  const nowIso = now.toISOString()
  const actor = opts.actor ?? 'daemon:callback'
  const done = (status: string, note: string | null, paymentId: string | null) => ({
    status,
    note: note?.slice(0, 1000) ?? null,
    payment_id: paymentId,
    processed_at: nowIso,
    lease_until: null,
    next_attempt_at: null,
    last_error: null,
    updated_at: nowIso,
  })
  const finish = async (
    status: string,
    note: string | null,
    paymentId: string | null,
  ): Promise<ProcessResult> => {
    await updateInbox(store.db, e.id, done(status, note, paymentId))
    return { id: e.id, claimed: true, status, note, paymentId }
  }
  /** Acts with the entry locked and records what it did on the entry, in one transaction. */
  const settleLocked = async (
    act: (
      trx: Kysely<Database>,
    ) => Promise<{ status: string; note: string | null; paymentId: string | null }>,
  ): Promise<ProcessResult> => {
    const r = await store.write(async (trx) => {
      await lockInbox(trx, e.id)
      const out = await act(trx)
      await updateInbox(trx, e.id, done(out.status, out.note, out.paymentId))
      return out
    })
    return { id: e.id, claimed: true, ...r }
  }

  switch (d.kind) {
    case 'apply':
      return settleLocked(async (trx) => {
        const applied = await applyOutcomeLocked(ctx, trx, {
          paymentId: d.payment.id,
          attemptId: d.attemptId,
          branch: d.branch,
          gw: d.gw,
          outcome: d.outcome,
          receiptNumber: d.receipt,
          reason: d.reason,
          log: d.log,
          actor,
        })
        const [status, note] = applyNote(applied, d.outcome, d.gw.type)
        if (d.receiptRefused)
          return { status: 'review', note: `${note}; ${d.receiptRefused}`, paymentId: d.payment.id }
        return { status, note, paymentId: d.payment.id }
      })
    case 'review':
      return settleLocked(async (trx) => {
        const reviewed = await reviewLocked(ctx, trx, {
          paymentId: d.payment.id,
          branch: d.branch,
          reason: d.reason,
          actor,
        })
        const note =
          reviewed.kind === 'refused'
            ? `${d.reason} (payment already ${reviewed.payment.status}; not changed)`
            : d.reason
        return { status: 'review', note, paymentId: d.payment.id }
      })
    case 'c2b':
      return settleLocked(async (trx) => {
        const made = await createC2BPayment(ctx, trx, d, actor)
        return { status: 'applied', note: made.note, paymentId: made.payment.id }
      })
    case 'final':
      return finish(d.status, d.note, d.paymentId ?? null)
    case 'unmatched': {
      const deadline = Date.parse(e.received_at) + opts.unmatchedWindowMs
      if (now.getTime() >= deadline) {
        const note = `${d.note}; orphaned after ${Math.round(opts.unmatchedWindowMs / 1000)} s unmatched`
        await store.write(async (trx) => {
          await updateInbox(trx, e.id, done('orphaned', note, null))
          await audit(ctx, trx, {
            action: 'callback.orphaned',
            branch: await branchCode(trx, e.branch_id),
            target: e.id,
            request: { gateway: e.gateway, key: e.dedupe_key, receivedAt: e.received_at },
            outcome: 'orphaned',
          })
        })
        return { id: e.id, claimed: true, status: 'orphaned', note, paymentId: null }
      }
      // A few quick looks (a push answer can trail its callback), then the window's end; a
      // payment that appears meanwhile wakes the entry at once (wakeMatchedCallbacks).
      const step = UNMATCHED_RECHECKS_MS[e.attempts - 1]
      const next = step === undefined ? deadline : Math.min(deadline, now.getTime() + step)
      await updateInbox(store.db, e.id, {
        status: 'unmatched',
        note: d.note,
        next_attempt_at: new Date(next).toISOString(),
        lease_until: null,
        updated_at: nowIso,
      })
      return { id: e.id, claimed: true, status: 'unmatched', note: d.note, paymentId: null }
    }
    case 'retry': {
      const window = opts.errorWindowMs ?? DEFAULT_ERROR_WINDOW_MS
      if (now.getTime() >= Date.parse(e.received_at) + window) {
        await updateInbox(store.db, e.id, {
          ...done('failed', `gave up after ${e.attempts} attempts: ${d.error}`, e.payment_id),
          last_error: d.error.slice(0, 1000),
        })
        return { id: e.id, claimed: true, status: 'failed', note: d.error, paymentId: null }
      }
      await updateInbox(store.db, e.id, {
        status: 'received',
        last_error: d.error.slice(0, 1000),
        next_attempt_at: new Date(
          now.getTime() + backoff(e.attempts, 1_000, 300_000),
        ).toISOString(),
        lease_until: null,
        updated_at: nowIso,
      })
      return { id: e.id, claimed: true, status: 'received', note: d.error, paymentId: null }
    }
  }
}

function applyNote(r: ApplyResult, o: GatewayOutcome, gateway: string): [string, string] {
  if (r.kind === 'moved') return ['applied', `payment ${r.from} → ${r.to}`]
  if (r.kind === 'same') return ['applied', `payment already ${r.payment.status}`]
  return [
    'ignored',
    `payment is ${r.payment.status}; a ${o.status === 'failed' ? 'failure' : o.status} from ${gateway} cannot change it`,
  ]
}

async function decide(ctx: Ctx, store: Store, e: InboxRow): Promise<Decision> {
  const branch = e.branch_id ? await findBranchById(store.db, e.branch_id) : undefined
  if (!branch) return { kind: 'final', status: 'invalid', note: 'its branch no longer exists' }
  let body: unknown
  try {
    body = JSON.parse(e.body)
  } catch {
    return { kind: 'final', status: 'invalid', note: 'the stored body is not JSON' }
  }
  if (e.gateway === 'bank') {
    const m = await matchSettlementCallback(ctx, store.db, branch, body)
    return m.matched
      ? { kind: 'final', status: m.status ?? 'applied', note: m.note }
      : { kind: 'unmatched', note: m.note }
  }
  const gw = (await branchGateways(store.db, branch)).find((g) => g.type === e.gateway)
  if (!gw)
    return { kind: 'retry', error: `branch ${branch.code} has no ${e.gateway} configuration` }
  const adapter = await adapterFor(ctx, gw)
  let parsed: ParsedCallback
  try {
    parsed = adapter.parseCallback(body)
  } catch (err) {
    if (!(err instanceof DshError)) throw err
    return unknownShape(store.db, e, branch, body, err)
  }
  if (e.gateway === 'mpesa' && parsed.shortcode !== undefined)
    return decideC2B(ctx, store, e, branch, body, parsed)
  const found = await matchPayment(
    store.db,
    e.gateway,
    parsed,
    branch.id,
    ctx.clock.now().getTime(),
  )
  if (!found)
    return {
      kind: 'unmatched',
      note: `no payment has ${e.gateway} reference ${parsed.gatewayRef ?? parsed.attemptRef ?? '(none)'} yet`,
    }
  if (found.payment.branch_id !== branch.id)
    return {
      kind: 'final',
      status: 'rejected',
      note: `the ${e.gateway} reference belongs to a payment of another branch; nothing changed`,
    }
  return decideForPayment(e, branch, gw, adapter, parsed, found.attempt, found.payment)
}
