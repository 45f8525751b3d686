import { expect } from 'vitest'
import { type App, createApp } from '../../src/app.js'
import type { PaymentStatus } from '../../src/core/payments/states.js'
import type { IdGen } from '../../src/core/ports.js'
import { transitionContext } from '../../src/payments/attempt.js'
import { newPaymentRow, recordCreated } from '../../src/payments/create.js'
import { findPayment } from '../../src/payments/payments-store.js'
import { transition } from '../../src/payments/transition.js'
import { requireBranch } from '../../src/tenants/branches.js'
import { runInProcess, testRuntime } from './run-cli.js'

/** A payment as a test plants it: created at `at`, moved to `status` by the real transition(). */
export interface Seed {
  id: string
  at: string
  /** Minor units. */
  amount: number | string | bigint
  status: PaymentStatus
  receipt: string | null
  phone: string | null
  gateway?: string
}

/** Runs dsh in-process against a store, failing the test on a non-zero exit unless `code` says. */
export async function run(env: Record<string, string>, args: string[], code = 0, ids?: IdGen) {
  const r = await runInProcess(args, ids ? { env, ids } : { env })
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code)
  return r
}

/** A tenant `acme` with KES branches (no gateways needed: statements and payments only). */
export async function setUpBranches(
  env: Record<string, string>,
  codes: readonly string[],
  ids?: IdGen,
) {
  await run(env, ['init'], 0, ids)
  await run(env, ['tenant', 'add', 'acme', '--name', 'Acme'], 0, ids)
  for (const c of codes)
    await run(
      env,
      ['branch', 'add', c, '--tenant', 'acme', '--name', c, '--currency', 'KES'],
      0,
      ids,
    )
}

/**
 * Plants payments through the payments capability (newPaymentRow, recordCreated, transition)
 * on an injected clock, as the gateways' callbacks and the recovery job would leave them:
 * succeeded with or without a receipt (an STK query gives none), needs_review, failed.
 */
export async function seedPayments(
  env: Record<string, string>,
  branchCode: string,
  seeds: readonly Seed[],
): Promise<void> {
  let now = new Date(0)
  const app: App = createApp(testRuntime({ env, clock: { now: () => now } }).rt, {})
  try {
    const store = await app.store()
    const branch = await requireBranch(store.db, branchCode)
    const move = transitionContext(branch)
    for (const s of seeds) {
      now = new Date(s.at)
      await store.write(async (trx) => {
        const row = newPaymentRow({
          id: s.id,
          branch,
          orderId: `order-${s.id}`,
          amountMinor: BigInt(s.amount),
          currency: branch.currency,
          method: 'mpesa',
          customerType: 'regular',
          phone: s.phone,
          gateway: s.gateway ?? 'mpesa',
          routing: { rule: 'test seed' },
          idempotencyKey: null,
          gatewayRef: null,
          nextCheckAt: null,
          at: s.at,
        })
        await recordCreated(app, trx, row, branch, { reason: 'seed', actor: 'test', request: {} })
        if (s.status === 'created') return
        let p = (await findPayment(trx, s.id))!
        p = (await transition(app, trx, p, 'pending', 'push accepted', move))!
        if (s.status === 'pending') return
        now = new Date(Date.parse(s.at) + 30_000)
        const moved = await transition(
          app,
          trx,
          p,
          s.status,
          `seed ${s.status}`,
          move,
          s.receipt ? { receipt_number: s.receipt } : {},
        )
        if (!moved) throw new Error(`seed ${s.id}: cannot move to ${s.status}`)
      })
    }
  } finally {
    await app.close()
  }
}
