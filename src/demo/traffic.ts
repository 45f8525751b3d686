import type { Ctx } from '../context.js'
import { isFinal, type PaymentStatus } from '../core/payments/states.js'
import { pay } from '../payments/pay.js'
import type { PayInput } from '../payments/pay-input.js'
import { paymentsList } from '../payments/queries.js'
import type { PaymentView } from '../payments/view.js'
import { stalled } from './stalled.js'

/** One payment of the demo's day, and why it is there. */
export interface PlannedPayment {
  input: PayInput
  /** What the customer (or the sandbox's magic value) does: `success`, `cancelled`, … */
  story: string
}

const pad = (n: number, w: number) => String(n).padStart(w, '0')

/** Magic phones of the sandbox (src/sandbox/magic.ts), as a cashier would type them. */
const PHONE = {
  cancelled: '0700001032',
  wrongPin: '0700002001',
  insufficient: '0700000001',
  lostCallback: '0700009001',
  duplicateCallback: '0700009002',
} as const

/**
 * The day's ordinary traffic, branch by branch: every amount is distinct within its branch (so a
 * statement line without a receipt still finds its one payment by amount and time).
 */
export function plan(): PlannedPayment[] {
  const out: PlannedPayment[] = []
  let k = 0
  const kes = () => String(150 + 7 * k++)
  const mpesa = (phone: string, story: string, customerType?: string) =>
    out.push({
      story,
      input: {
        branch: 'nairobi',
        amount: kes(),
        currency: 'KES',
        phone,
        orderId: `NBO-${pad(out.length + 1, 4)}`,
        ...(customerType ? { customerType } : {}),
      },
    })
  for (let i = 0; i < 70; i++) mpesa(`0712${pad(300_000 + i * 13, 6)}`, 'success')
  for (let i = 0; i < 6; i++) mpesa(PHONE.cancelled, 'cancelled')
  for (let i = 0; i < 6; i++) mpesa(PHONE.wrongPin, 'wrong PIN')
  for (let i = 0; i < 3; i++) mpesa(PHONE.insufficient, 'insufficient funds')
  for (let i = 0; i < 5; i++) mpesa(PHONE.lostCallback, 'lost callback')
  for (let i = 0; i < 4; i++) mpesa(PHONE.duplicateCallback, 'duplicate callback')
  for (let i = 0; i < 6; i++)
    mpesa(`0722${pad(410_000 + i * 17, 6)}`, 'enterprise (KCB)', 'enterprise')
  const card = (branch: string, currency: string, amount: string, pm: string, story: string) =>
    out.push({
      story,
      input: {
        branch,
        amount,
        currency,
        method: 'card',
        paymentMethod: pm,
        orderId: `${branch.slice(0, 3).toUpperCase()}-${pad(out.length + 1, 4)}`,
      },
    })
  const cash = (branch: string, currency: string, amount: string) =>
    out.push({
      story: 'cash',
      input: {
        branch,
        amount,
        currency,
        method: 'cash',
        orderId: `${branch.slice(0, 3).toUpperCase()}-${pad(out.length + 1, 4)}`,
      },
    })
  for (let i = 0; i < 10; i++) card('nairobi', 'KES', kes(), 'pm_card_visa', 'success')
  for (let i = 0; i < 2; i++) card('nairobi', 'KES', kes(), 'pm_card_chargeDeclined', 'declined')
  for (let i = 0; i < 8; i++) cash('nairobi', 'KES', kes())
  for (let i = 0; i < 30; i++)
    card('kampala', 'UGX', String(15_000 + 500 * i), 'pm_card_visa', 'success')
  for (let i = 0; i < 3; i++)
    card('kampala', 'UGX', String(42_000 + 500 * i), 'pm_card_chargeDeclined', 'declined')
  for (let i = 0; i < 15; i++) cash('kampala', 'UGX', String(8_000 + 1_000 * i))
  for (let i = 0; i < 30; i++)
    card('dar', 'TZS', String(12_000 + 250 * i), 'cnon:card-nonce-ok', 'success')
  for (let i = 0; i < 3; i++)
    card('dar', 'TZS', String(31_000 + 250 * i), 'cnon:card-nonce-declined', 'declined')
  for (let i = 0; i < 15; i++) cash('dar', 'TZS', String(5_000 + 500 * i))
  return out
}

/** Runs payments through `pay` (as `dsh pay` does), `concurrency` at a time, in order. */
export async function runPayments(
  ctx: Ctx,
  list: readonly PlannedPayment[],
  concurrency: number,
  progress: (done: number) => void,
): Promise<PaymentView[]> {
  const results: PaymentView[] = new Array(list.length)
  let next = 0
  let done = 0
  const worker = async () => {
    for (;;) {
      const i = next++
      if (i >= list.length) return
      const item = list[i] as PlannedPayment
      results[i] = (await pay(ctx, item.input)).payment
      done++
      if (done % 25 === 0) progress(done)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return results
}

/** Every payment of the store, newest first (as `dsh payments list --all`). */
export async function allPayments(ctx: Ctx): Promise<PaymentView[]> {
  const out: PaymentView[] = []
  for await (const page of (await paymentsList(ctx, { all: true })).payments) out.push(...page)
  return out
}

/** Every payment of the store, until none is open any more (or the deadline passes). */
export async function waitUntilFinal(
  ctx: Ctx,
  deadlineMs: number,
  progress: (open: PaymentView[]) => void,
): Promise<PaymentView[]> {
  let lastOpen = -1
  for (;;) {
    const all = await allPayments(ctx)
    const open = all.filter((p) => !isFinal(p.status as PaymentStatus))
    if (open.length === 0) return all
    if (Date.now() > deadlineMs)
      throw stalled(
        `payments still open at the deadline: ${open.map((p) => `${p.id} ${p.status}`).join(', ')}`,
      )
    if (open.length !== lastOpen) progress(open)
    lastOpen = open.length
    await new Promise((r) => setTimeout(r, 250))
  }
}

/** Queues a sandbox outcome the way an operator would: `POST /__control/script`. */
async function script(sandboxUrl: string, gateway: string, outcome: string, count: number) {
  const res = await fetch(`${sandboxUrl}/__control/script`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ gateway, outcome, count }),
  })
  if (!res.ok) throw stalled(`sandbox script ${gateway} ${outcome}: HTTP ${res.status}`)
}

export interface Scenes {
  /** Enterprise pushes during the KCB outage: each failed over to M-Pesa Daraja. */
  outage: { payment: PaymentView; skipped: string[] }[]
  /** The card payment whose answer came too late: Stripe charged, dsh did not hear it in time. */
  slow: PaymentView
}

/**
 * Scripted scenes, one at a time so the scripted outcomes meet the right requests: a KCB outage
 * (HTTP 503 with Zed's error body, before anything is pushed, so dsh fails over to Daraja), then
 * a Stripe answer withheld past Kampala's 1 s read timeout after the card was charged (the
 * payment is `unknown` until the recovery job finds the charge by its attempt reference).
 */
export async function scenes(ctx: Ctx, sandboxUrl: string, outages: number): Promise<Scenes> {
  await script(sandboxUrl, 'mpesa-kcb', 'http_503', outages)
  const outage: Scenes['outage'] = []
  for (let i = 0; i < outages; i++) {
    const r = await pay(ctx, {
      branch: 'nairobi',
      amount: String(2_003 + 10 * i),
      currency: 'KES',
      phone: `0733${pad(520_000 + i * 11, 6)}`,
      customerType: 'enterprise',
      orderId: `NBO-KCB-${pad(i + 1, 2)}`,
    })
    outage.push({ payment: r.payment, skipped: r.skipped })
  }
  await script(sandboxUrl, 'stripe', 'slow_success', 1)
  const slow = (
    await pay(ctx, {
      branch: 'kampala',
      amount: '73500',
      currency: 'UGX',
      method: 'card',
      paymentMethod: 'pm_card_visa',
      orderId: 'KAM-SLOW-01',
    })
  ).payment
  return { outage, slow }
}
