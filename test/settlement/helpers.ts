import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'vitest'
import type { Clock } from '../../src/core/ports.js'
import { openStore, type Store } from '../../src/store/connect.js'
import { runInProcess } from '../helpers/run-cli.js'

export const fixedClock = (iso: string): Clock & { set(iso: string): void } => {
  let t = new Date(iso)
  return {
    now: () => new Date(t.getTime()),
    set(next: string) {
      t = new Date(next)
    },
  }
}

/** Half-up rounding of amount × bp / 10 000, written out independently of src/core. */
export const ratePart = (amount: bigint, bp: number): bigint => {
  const n = amount * BigInt(bp)
  const q = n / 10_000n
  return n % 10_000n >= 5_000n ? q + 1n : q
}

export interface PaymentSpec {
  id: string
  branch: string
  gateway: string
  amount: bigint
  currency: string
  completedAt: string
  status?: string
  refunded?: bigint
  /** The recorded fee; null = not recorded. */
  fee?: { rateBp: number; flat: bigint; convBp: number } | null
}

/** The fee a payment records at success, computed here without src/core. */
export const feeOf = (p: PaymentSpec): bigint | null =>
  p.fee === null || p.fee === undefined
    ? null
    : ratePart(p.amount, p.fee.rateBp) + p.fee.flat + ratePart(p.amount, p.fee.convBp)

let seq = 0

/** Inserts payments as the payments capability leaves them at success (a fixture, not a mock). */
export async function addPayments(db: string, specs: readonly PaymentSpec[]): Promise<void> {
  const store = await openStore(db)
  try {
    for (const p of specs) {
      const b = await store.db
        .selectFrom('branches')
        .select(['id', 'tenant_id'])
        .where('code', '=', p.branch)
        .executeTakeFirstOrThrow()
      const fee = feeOf(p)
      await store.db
        .insertInto('payments')
        .values({
          id: p.id,
          tenant_id: b.tenant_id,
          branch_id: b.id,
          order_id: `o-${p.id}`,
          amount_minor: p.amount,
          currency: p.currency,
          refunded_minor: p.refunded ?? 0n,
          method: p.gateway === 'cash' ? 'cash' : p.gateway === 'stripe' ? 'card' : 'mpesa',
          customer_type: 'walk_in',
          phone: null,
          gateway: p.gateway,
          status: p.status ?? 'succeeded',
          failure_code: null,
          failure_message: null,
          routing: '{}',
          idempotency_key: null,
          receipt_number: `R${String(++seq).padStart(6, '0')}`,
          gateway_ref: null,
          fee_minor: fee,
          fee_rate_bp: p.fee ? p.fee.rateBp : null,
          fee_flat_minor: p.fee ? p.fee.flat : null,
          fee_currency: p.fee ? p.currency : null,
          settlement_status: 'unsettled',
          settlement_batch_id: null,
          next_check_at: null,
          check_count: 0,
          created_at: p.completedAt,
          updated_at: p.completedAt,
          completed_at: p.completedAt,
        })
        .execute()
    }
  } finally {
    await store.close()
  }
}

export async function withStore<T>(db: string, fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await openStore(db)
  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}

/** Runs the CLI in process, expecting exit 0. */
export async function ok(env: Record<string, string>, args: string[], clock?: Clock) {
  const r = await runInProcess(args, { env, ...(clock ? { clock } : {}) })
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
  return r
}

/**
 * Tenant acme (KES) with branch westlands (KES, Africa/Nairobi): mpesa-kcb at tenant level (1.5 %
 * + KES 1 flat, conversion 2 %, settlement fee KES 10), stripe for the branch (2.9 % + KES 30,
 * conversion 3.5 %, settlement fee KES 25), and cash at tenant level without fees. (Cash is
 * banked, never transferred: the transfer tests settle mpesa-kcb where they once settled cash.)
 */
export async function seedSettlement(home: string, env: Record<string, string>): Promise<void> {
  const put = (n: string, v: string) => {
    const p = join(home, n)
    writeFileSync(p, v)
    return p
  }
  for (const args of [
    ['init'],
    ['tenant', 'add', 'acme', '--name', 'Acme'],
    ['branch', 'add', 'westlands', '--tenant', 'acme', '--name', 'Westlands', '--currency', 'KES'],
    // cash is recorded at once (no fee: the branch banks all of it)
    ['gateway', 'setup', 'cash', '--tenant', 'acme'],
    [
      'gateway',
      'setup',
      'mpesa-kcb',
      '--tenant',
      'acme',
      '--api-key-file',
      put('kcb', 'kcbApiKeySettle1'),
      '--external-origin',
      'biz-settle',
      '--transaction-fee-rate',
      '1.5',
      '--transaction-fee-flat',
      '1',
      '--conversion-fee-rate',
      '2',
      '--settlement-fee',
      '10',
    ],
    [
      'gateway',
      'setup',
      'stripe',
      '--branch',
      'westlands',
      '--secret-key-file',
      put('sk', 'sk_test_settle1'),
      '--webhook-secret-file',
      put('wh', 'whsec_settle1'),
      '--base-url',
      'http://127.0.0.1:9',
      '--transaction-fee-rate',
      '2.9',
      '--transaction-fee-flat',
      '30',
      '--conversion-fee-rate',
      '3.5',
      '--settlement-fee',
      '25',
    ],
  ]) {
    await ok(env, args)
  }
}
