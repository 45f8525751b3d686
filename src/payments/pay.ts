import { audit } from '../audit/audit.js'
import { callbackUrl } from '../callbacks/callback-url.js'
import type { Ctx } from '../context.js'
import { conflict, DshError, notFound, usageError, validationError } from '../core/errors.js'
import { formatMoney } from '../core/money/format.js'
import { requestFingerprint } from '../core/payments/fingerprint.js'
import { isFinal, type PaymentStatus } from '../core/payments/states.js'
import { maskMsisdn } from '../core/phone.js'
import { decideRoute, excludeUnsendable } from '../routing/rules.js'
import { isUniqueViolation } from '../store/errors.js'
import { checkMaxAmount, requireBranch } from '../tenants/branches.js'
import type { BranchWithTenant } from '../tenants/branches-store.js'
import { runAttempt, transitionContext } from './attempt.js'
import { replay, waitForFinal } from './pay-follow.js'
import { type PayFlags, parsePayRequest } from './pay-input.js'
import {
  findIdempotencyKey,
  findPaymentForUpdate,
  findUnknownTwin,
  insertIdempotencyKey,
  insertPayment,
  insertPaymentEvent,
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
export async function pay(ctx: Ctx, flags: PayFlags, opts: PayOptions = {}): Promise<PayResult> {
  const req = parsePayRequest(flags)
  const store = await ctx.store()
  const branch = await requireBranch(store.db, req.branch)
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
  const fingerprint = requestFingerprint({ ...req, branch: branch.code })
  if (req.idempotencyKey) {
    const seen = await findIdempotencyKey(store.db, branch.tenant_id, req.idempotencyKey)
    if (seen) return replay(ctx, branch, seen, fingerprint, opts)
  }
  checkMaxAmount(branch, req.amountMinor, req.currency)

  const { decision, gateways } = await decideRoute(store.db, branch, req)
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
      throw usageError(
        'missing_flags',
        'missing required flag: --payment-method (a production card payment needs the customer’s card token)',
        'give the Stripe pm_… or Square source id from your card terminal or checkout',
      )
    }
  }
  if (req.method === 'mpesa' && req.phone) {
    const twin = await findUnknownTwin(store.db, branch.id, req.phone, req.amountMinor)
    if (twin) {
      throw conflict(
        'payment_outcome_unknown',
        `payment ${twin.id} of the same amount to ${maskMsisdn(req.phone)} has an unknown outcome; the customer may already have paid`,
        `resolve it first with \`dsh payments sync ${twin.id}\``,
      )
    }
  }

  const paymentId = ctx.ids.next('pay')
  const nowIso = ctx.clock.now().toISOString()
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
          created_at: nowIso,
        })
      }
      const row = {
        id: paymentId,
        tenant_id: branch.tenant_id,
        branch_id: branch.id,
        order_id: req.orderId,
        amount_minor: req.amountMinor,
        currency: req.currency,
        refunded_minor: 0n,
        method: req.method,
        customer_type: req.customerType,
        phone: req.phone,
        gateway: null,
        status: 'created',
        failure_code: null,
        failure_message: null,
        routing: JSON.stringify(decision),
        idempotency_key: req.idempotencyKey,
        receipt_number: null,
        gateway_ref: null,
        fee_minor: null,
        fee_rate_bp: null,
        fee_flat_minor: null,
        fee_currency: null,
        settlement_status: 'unsettled',
        settlement_batch_id: null,
        next_check_at: new Date(ctx.clock.now().getTime() + 30_000).toISOString(),
        check_count: 0,
        created_at: nowIso,
        updated_at: nowIso,
        completed_at: null,
      }
      await insertPayment(trx, row)
      await insertPaymentEvent(trx, {
        id: ctx.ids.next('pe'),
        payment_id: paymentId,
        at: nowIso,
        from_status: null,
        to_status: 'created',
        actor: ctx.actor,
        reason: `routed by ${decision.rule}: ${decision.reason}`,
      })
      await audit(ctx, trx, {
        action: 'payment.create',
        tenant: branch.tenant_slug,
        branch: branch.code,
        target: paymentId,
        request: {
          amount: req.amountMinor.toString(),
          currency: req.currency,
          method: req.method,
          phone: req.phone ? maskMsisdn(req.phone) : null,
          orderId: req.orderId,
          idempotencyKey: req.idempotencyKey,
          route: order,
        },
      })
      return row as PaymentRow
    })
  } catch (err) {
    if (!(req.idempotencyKey && isUniqueViolation(err))) throw err
  }
  if (!created) {
    const seen = await findIdempotencyKey(store.db, branch.tenant_id, req.idempotencyKey ?? '')
    if (!seen) throw new DshError('internal', 'idempotency_lost', 'the idempotency key vanished')
    return replay(ctx, branch, seen, fingerprint, opts)
  }

  let current: PaymentRow = created
  const skipped: string[] = []
  try {
    for (const [i, type] of order.entries()) {
      const gw = gateways.find((g) => g.type === type)
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
      const r = await runAttempt(ctx, store, branch, paymentId, i + 1, gw, {
        amountMinor: req.amountMinor,
        currency: req.currency,
        phone: req.phone ?? undefined,
        orderId: req.orderId ?? paymentId,
        description: `Order ${req.orderId ?? paymentId}`.slice(0, 60),
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
    await failIfNothingSent(ctx, branch, paymentId, err)
    throw err
  }
  if (current.status === 'created') {
    const why = skipped.join('; ') || 'no gateway was tried'
    current =
      (await store.write((trx) =>
        transition(
          ctx,
          trx,
          current,
          'failed',
          `no gateway could be attempted: ${why}`,
          transitionContext(branch),
          { failure_code: 'gateway_unavailable', failure_message: why },
        ),
      )) ?? current
  }
  if (opts.wait && !isFinal(current.status as PaymentStatus))
    current = await waitForFinal(ctx, current.id, opts)
  return { payment: paymentView(current, branch.code), replayed: false, skipped }
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
    const sent = await trx
      .selectFrom('payment_attempts')
      .select('id')
      .where('payment_id', '=', paymentId)
      .where('status', 'in', ['sending', 'pending', 'unknown'])
      .executeTakeFirst()
    if (sent) return
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
