import type { Kysely } from 'kysely'
import { callbackUrl } from '../callbacks/callback-url.js'
import type { Ctx } from '../context.js'
import {
  configError,
  conflict,
  DshError,
  fieldError,
  notFound,
  validationError,
} from '../core/errors.js'
import { formatMoney } from '../core/money/format.js'
import { flatNeedsRate } from '../core/payments/fees.js'
import { requestFingerprint } from '../core/payments/fingerprint.js'
import { isFinal, type PaymentStatus } from '../core/payments/states.js'
import { maskMsisdn } from '../core/phone.js'
import { parseSlug } from '../core/validate.js'
import { rateIn } from '../reports/rates.js'
import { decideRoute, excludeUnsendable } from '../routing/rules.js'
import { isUniqueViolation } from '../store/errors.js'
import type { Database } from '../store/schema.js'
import type { BranchWithTenant } from '../tenants/branches.js'
import { checkMaxAmount, requireBranch } from '../tenants/branches.js'
import { runAttempt, transitionContext } from './attempt.js'
import { newPaymentRow, recordCreated } from './create.js'
import { feeDay } from './fees.js'
import { replay, waitForFinal } from './pay-follow.js'
import { type PayInput, type PayRequest, parsePayRequest } from './pay-input.js'
import {
  findIdempotencyKey,
  findPaymentForUpdate,
  findUnknownTwin,
  hasAttemptInFlight,
  type IdempotencyRow,
  insertIdempotencyKey,
  type PaymentRow,
} from './payments-store.js'
import { transition } from './transition.js'
import { type PaymentView, paymentView } from './view.js'

export interface PayOptions {
  wait?: boolean | undefined
  timeoutMs?: number | undefined
  pollMs?: number | undefined
}

export interface PayResult {
  payment: PaymentView
  /** True when an idempotency key returned an earlier payment. */
  replayed: boolean
  /** Gateways skipped or failed before the one that answered. */
  skipped: string[]
}

/** `dsh pay` / POST /api/payments/process: route, attempt with safe failover, optionally wait. */
export async function pay(ctx: Ctx, input: PayInput, opts: PayOptions = {}): Promise<PayResult> {
  const store = await ctx.store()
  const req = parsePayRequest(await withBranchCurrency(store.db, input))
  const branch = await payingBranch(store.db, req)
  const fingerprint = requestFingerprint({ ...req, branch: branch.code })
  if (req.idempotencyKey) {
    const seen = await findIdempotencyKey(store.db, branch.tenant_id, req.idempotencyKey)
    if (seen) return replay(ctx, branch, seen, fingerprint, opts)
  }
  checkMaxAmount(branch, req.amountMinor, req.currency)
  const route = await routeFor(store.db, branch, req)
  await refuseFlatFeeWithoutRate(store.db, branch, req, route, ctx.clock.now())
  if (req.method === 'mpesa' && req.phone) await refuseUnknownTwin(store.db, branch, req)
  const created = await createPayment(ctx, branch, req, route.decision, fingerprint)
  if (created.replayOf) return replay(ctx, branch, created.replayOf, fingerprint, opts)
  let { payment, skipped } = await attemptInOrder(ctx, branch, req, route, created.payment)
  if (payment.status === 'created') payment = await failUnattempted(ctx, branch, payment, skipped)
  if (opts.wait && !isFinal(payment.status as PaymentStatus))
    payment = await waitForFinal(ctx, payment.id, opts)
  return { payment: paymentView(payment, branch.code), replayed: false, skipped }
}

/** The currency defaults to the branch's (the branch is looked up only when the rest is given). */
async function withBranchCurrency(db: Kysely<Database>, input: PayInput): Promise<PayInput> {
  if (input.currency || !input.branch || !input.amount) return input
  try {
    parsePayRequest({ ...input, currency: 'KES' }) // a missing field (usage) outranks not found
  } catch (e) {
    if (e instanceof DshError && e.kind === 'usage') throw e
  }
  const branch = await requireBranch(db, parseSlug(input.branch, 'branch code'))
  return { ...input, currency: branch.currency }
}

/** The branch, enabled and accepting the method. */
async function payingBranch(db: Kysely<Database>, req: PayRequest): Promise<BranchWithTenant> {
  const branch = await requireBranch(db, req.branch)
  if (branch.status === 'disabled')
    throw notFound(
      'branch_disabled',
      `branch ${branch.code} is disabled and takes no payments`,
      `enable it with \`dsh branch enable ${branch.code}\``,
    )
  if (!branch.methods.split(',').includes(req.method)) {
    throw validationError(
      'method_not_accepted',
      `branch ${branch.code} does not accept ${req.method} payments (it takes ${branch.methods})`,
      `change it with \`dsh branch set ${branch.code} --methods …\``,
    )
  }
  return branch
}

type Route = Awaited<ReturnType<typeof decideRoute>>

/** The gateways to try, in order; refused when none can take the payment. */
async function routeFor(
  db: Kysely<Database>,
  branch: BranchWithTenant,
  req: PayRequest,
): Promise<Route> {
  const route = await decideRoute(db, branch, req)
  const { decision, gateways } = route
  const rejected = excludeUnsendable(decision, req.amountMinor, req.currency)
  const order = decision.order
  if (order.length === 0) {
    const tried = decision.candidates.map((c) => `${c.gateway} (${c.reason})`).join('; ')
    throw validationError(
      'no_gateway',
      rejected[0] &&
        rejected.length ===
          decision.candidates.filter((c) => c.reason !== 'not configured for this branch').length
        ? rejected[0]
        : `no enabled gateway of ${branch.code} can take ${formatMoney({ minor: req.amountMinor, currency: req.currency })} by ${req.method}: tried ${tried || 'none'}`,
      `see \`dsh route explain\` and \`dsh gateway list --branch ${branch.code}\``,
    )
  }
  if (req.method === 'card' && !req.paymentMethod) {
    const live = order.filter(
      (t) =>
        sandboxCard(t, gateways.find((g) => g.type === t)?.settings['environment']) === undefined,
    )
    if (live.length === order.length) {
      throw fieldError(
        'usage',
        'missing_flags',
        ['paymentMethod'],
        'missing required field: paymentMethod (a production card payment needs the customer’s card token)',
        'give the Stripe pm_… or Square source id from your card terminal or checkout',
      )
    }
  }
  return route
}

/**
 * A payment in a currency other than a gateway's fee configuration pays the flat fee converted
 * with `dsh rates`: with no rate for today, it is refused before any gateway is called (a fee
 * recorded without its flat part would under-charge the settlement).
 */
async function refuseFlatFeeWithoutRate(
  db: Kysely<Database>,
  branch: BranchWithTenant,
  req: PayRequest,
  route: Route,
  now: Date,
): Promise<void> {
  const day = feeDay(branch.timezone, now)
  for (const type of route.decision.order) {
    const fees = route.gateways.find((g) => g.type === type)?.fees
    if (!fees || !flatNeedsRate(fees, req.currency)) continue
    if (await rateIn(db, fees.currency, req.currency, day)) continue
    const flat = formatMoney({ minor: fees.transactionFeeFlatMinor, currency: fees.currency })
    throw configError(
      'fee_without_rate',
      `no ${fees.currency}→${req.currency} rate on ${day} to convert ${type}'s flat fee of ${flat} for a ${req.currency} payment at ${branch.code}: set one with \`dsh rates set ${fees.currency} ${req.currency} <rate>\``,
      `units of ${req.currency} per 1 ${fees.currency}, e.g. \`dsh rates set ${fees.currency} ${req.currency} <rate> --as-of ${day}\`; nothing was sent`,
    )
  }
}

/** A second push of the same amount to a phone whose first push may have charged is refused. */
async function refuseUnknownTwin(
  db: Kysely<Database>,
  branch: BranchWithTenant,
  req: PayRequest,
): Promise<void> {
  if (!req.phone) return
  const twin = await findUnknownTwin(db, branch.id, req.phone, req.amountMinor)
  if (twin) {
    throw conflict(
      'payment_outcome_unknown',
      `payment ${twin.id} of the same amount to ${maskMsisdn(req.phone)} has an unknown outcome; the customer may already have paid`,
      `resolve it first with \`dsh payments sync ${twin.id}\``,
    )
  }
}

/**
 * The payment row, its idempotency key, timeline and audit in one transaction. A racing process
 * that took the same key first makes this one a replay of that payment.
 */
async function createPayment(
  ctx: Ctx,
  branch: BranchWithTenant,
  req: PayRequest,
  decision: Route['decision'],
  fingerprint: string,
): Promise<{ payment: PaymentRow; replayOf?: undefined } | { replayOf: IdempotencyRow }> {
  const store = await ctx.store()
  const paymentId = ctx.ids.next('pay')
  const at = ctx.clock.now().toISOString()
  let created: PaymentRow | null = null
  try {
    created = await store.write(async (trx) => {
      if (req.idempotencyKey) {
        if (await findIdempotencyKey(trx, branch.tenant_id, req.idempotencyKey)) return null
        await insertIdempotencyKey(trx, {
          tenant_id: branch.tenant_id,
          key: req.idempotencyKey,
          fingerprint,
          payment_id: paymentId,
          created_at: at,
        })
      }
      const row = newPaymentRow({
        id: paymentId,
        branch,
        orderId: req.orderId,
        amountMinor: req.amountMinor,
        currency: req.currency,
        method: req.method,
        customerType: req.customerType,
        phone: req.phone,
        gateway: null,
        routing: decision,
        idempotencyKey: req.idempotencyKey,
        gatewayRef: null,
        nextCheckAt: new Date(ctx.clock.now().getTime() + 30_000).toISOString(),
        at,
      })
      await recordCreated(ctx, trx, row, branch, {
        reason: `routed by ${decision.rule}: ${decision.reason}`,
        actor: ctx.actor,
        request: {
          amount: req.amountMinor.toString(),
          currency: req.currency,
          method: req.method,
          phone: req.phone ? maskMsisdn(req.phone) : null,
          orderId: req.orderId,
          idempotencyKey: req.idempotencyKey,
          route: decision.order,
        },
      })
      return row
    })
  } catch (err) {
    if (!(req.idempotencyKey && isUniqueViolation(err))) throw err
  }
  if (created) return { payment: created }
  const seen = await findIdempotencyKey(store.db, branch.tenant_id, req.idempotencyKey ?? '')
  if (!seen) throw new DshError('internal', 'idempotency_lost', 'the idempotency key vanished')
  return { replayOf: seen }
}

/**
 * Tries the route's gateways in order. Only a `not_attempted` outcome (nothing can have reached
 * the customer) moves on to the next gateway; any other answer ends the loop.
 */
async function attemptInOrder(
  ctx: Ctx,
  branch: BranchWithTenant,
  req: PayRequest,
  route: Route,
  created: PaymentRow,
): Promise<{ payment: PaymentRow; skipped: string[] }> {
  const store = await ctx.store()
  let current = created
  const skipped: string[] = []
  try {
    for (const [i, type] of route.decision.order.entries()) {
      const gw = route.gateways.find((g) => g.type === type)
      if (!gw) continue
      if (type === 'cash') {
        current =
          (await store.write((trx) =>
            transition(
              ctx,
              trx,
              current,
              'succeeded',
              'cash recorded',
              transitionContext(branch, gw),
              { gateway: 'cash' },
            ),
          )) ?? current
        break
      }
      const r = await runAttempt(ctx, store, branch, created.id, i + 1, gw, {
        amountMinor: req.amountMinor,
        currency: req.currency,
        phone: req.phone ?? undefined,
        orderId: req.orderId ?? created.id,
        description: `Order ${req.orderId ?? created.id}`.slice(0, 60),
        callbackUrl: await callbackUrl(ctx, store.db, branch, type, gw.settings['environment']),
        paymentMethod: req.paymentMethod ?? sandboxCard(type, gw.settings['environment']),
      })
      if (r.kind === 'skipped') {
        skipped.push(r.reason)
        continue
      }
      current = r.payment
      if (r.kind === 'not_attempted') {
        skipped.push(`${type}: ${r.outcome.message}`)
        continue
      }
      break
    }
  } catch (err) {
    await failIfNothingSent(ctx, branch, created.id, err)
    throw err
  }
  return { payment: current, skipped }
}

/** No gateway could be attempted: the payment fails, saying why for each. */
async function failUnattempted(
  ctx: Ctx,
  branch: BranchWithTenant,
  p: PaymentRow,
  skipped: string[],
): Promise<PaymentRow> {
  const store = await ctx.store()
  const why = skipped.join('; ') || 'no gateway was tried'
  return (
    (await store.write((trx) =>
      transition(
        ctx,
        trx,
        p,
        'failed',
        `no gateway could be attempted: ${why}`,
        transitionContext(branch),
        { failure_code: 'gateway_unavailable', failure_message: why },
      ),
    )) ?? p
  )
}

/**
 * A payment whose attempt loop broke before anything reached a gateway (a vault or
 * configuration problem) is failed at once, so it is never left `created`. One with an attempt
 * that may have been sent stays for the recovery job: it may have been charged.
 */
async function failIfNothingSent(
  ctx: Ctx,
  branch: BranchWithTenant,
  paymentId: string,
  err: unknown,
): Promise<void> {
  const store = await ctx.store()
  await store.write(async (trx) => {
    const p = await findPaymentForUpdate(trx, paymentId)
    if (p?.status !== 'created') return
    if (await hasAttemptInFlight(trx, paymentId)) return
    const code = err instanceof DshError ? err.code : 'internal_error'
    const message = err instanceof Error ? err.message : String(err)
    await transition(ctx, trx, p, 'failed', `not sent: ${message}`, transitionContext(branch), {
      failure_code: code,
      failure_message: message,
    })
  })
}

/** The sandbox test card a sandbox card payment uses when none is given; none in production. */
function sandboxCard(type: string, environment: string | undefined): string | undefined {
  if (environment === 'production') return undefined
  if (type === 'stripe') return 'pm_card_visa'
  if (type === 'square') return 'cnon:card-nonce-ok'
  return undefined
}
