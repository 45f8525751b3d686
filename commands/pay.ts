import { Command } from 'commander'
import type { App } from '../src/app.js'
import { formatMoney } from '../src/core/money/format.js'
import { formatLocal } from '../src/core/time.js'
import type { PaymentView } from '../src/payments/view.js'
import type { CommandContext } from './context.js'

export function renderPayment(app: App, p: PaymentView, zone: string): string {
  return app.out.fields([
    ['Payment', p.id],
    ['Status', p.status],
    ['Branch', p.branch],
    ['Amount', formatMoney({ minor: BigInt(p.amountMinor), currency: p.currency })],
    ['Method', p.method],
    ['Gateway', p.gateway ?? '(none)'],
    ['Phone', p.phoneMasked ?? undefined],
    ['Order', p.orderId ?? undefined],
    [gatewayRefLabel(p.gateway), p.checkoutRequestId ?? undefined],
    ['Receipt', p.receiptNumber ?? undefined],
    [
      'Fee',
      p.feeMinor === null
        ? undefined
        : formatMoney({ minor: BigInt(p.feeMinor), currency: p.currency }),
    ],
    ['Failure', p.failure ? `${p.failure.message} (${p.failure.code})` : undefined],
    ['Created', formatLocal(p.createdAt, zone)],
    ['Completed', p.completedAt ? formatLocal(p.completedAt, zone) : undefined],
  ])
}

/** What `pay` waits for, in words: the customer's phone (masked) or the gateway. */
async function waitLabel(opts: PayOpts): Promise<string> {
  const method = opts.method ?? (opts.phone ? 'mpesa' : undefined)
  if (method === 'mpesa' && opts.phone) {
    const { maskMsisdn, normalisePhone } = await import('../src/core/phone.js')
    let phone = opts.phone
    try {
      phone = maskMsisdn(normalisePhone(opts.phone))
    } catch {
      // an invalid phone is refused by pay() with its own message
    }
    return opts.wait
      ? `STK push sent to ${phone} — waiting for the customer`
      : `sending the STK push to ${phone}`
  }
  return opts.wait ? 'waiting for the gateway’s answer' : 'sending the payment to the gateway'
}

/** What the gateway's own reference is called by that gateway. */
export function gatewayRefLabel(gateway: string | null): string {
  switch (gateway) {
    case 'stripe':
      return 'Payment intent'
    case 'square':
      return 'Square payment'
    case 'mpesa-kcb':
      return 'KCB reference'
    case 'mpesa':
      return 'Checkout request'
    default:
      return 'Gateway reference'
  }
}

/** PRODUCT.md / issue contract: 0 succeeded or pending without --wait; 8 failed/cancelled; 6 unknown or nothing attempted. */
export function payExitKind(p: PaymentView, waited: boolean): 'ok' | 'findings' | 'unavailable' {
  if (p.status === 'succeeded') return 'ok'
  if (p.status === 'pending' || p.status === 'created') return waited ? 'unavailable' : 'ok'
  if (p.status === 'failed' && p.failure?.code === 'gateway_unavailable') return 'unavailable'
  if (p.status === 'failed' || p.status === 'cancelled') return 'findings'
  return 'unavailable'
}

export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(text.trim())
  if (!m) throw new Error(`"${text}" is not a duration such as 90s or 2m`)
  const n = Number(m[1])
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000
}

interface PayOpts {
  branch?: string
  amount?: string
  currency?: string
  phone?: string
  order?: string
  method?: string
  customerType?: string
  idempotencyKey?: string
  paymentMethod?: string
  wait?: boolean
  timeout?: string
}

export function payCommand(ctx: CommandContext): Command {
  return new Command('pay')
    .description(
      'Take a payment: route it, try the gateways with safe failover, and print the result',
    )
    .option('--branch <code>', 'the branch taking the payment')
    .option('--amount <amount>', 'amount in major units, e.g. 1500 or 1,500.50')
    .option('--currency <ccy>', 'currency of the amount (default: the branch currency)')
    .option('--phone <msisdn>', 'customer phone for M-Pesa (07…, 01…, +254…, 254…)')
    .option('--order <id>', 'your order id')
    .option('--method <method>', 'mpesa | card | cash (default mpesa when --phone is given)')
    .option('--customer-type <type>', 'regular | enterprise', 'regular')
    .option(
      '--idempotency-key <key>',
      'the same key and request returns the original payment; never charges twice',
    )
    .option(
      '--payment-method <token>',
      'card payments: a Stripe/Square payment method (default a sandbox test card)',
    )
    .option('--wait', 'follow the payment to a final state by querying the gateway')
    .option('--timeout <duration>', 'how long --wait waits, e.g. 90s or 2m', '90s')
    .addHelpText(
      'after',
      `
Examples:
  dsh pay --branch westlands --amount 1500 --phone 0712345678 --order T12-88 --wait
  dsh pay --branch westlands --amount 2,450.00 --currency KES --method card --idempotency-key order-88
  dsh pay --branch westlands --amount 300 --currency KES --method cash --json

Exit codes: 0 succeeded (or pending without --wait), 8 failed or cancelled, 6 no gateway could be
attempted or the outcome is unknown, 3 invalid input, 4 unknown or disabled branch, 5 idempotency conflict.`,
    )
    .action(
      ctx.action(async (app, opts: PayOpts) => {
        const { pay } = await import('../src/payments/pay.js')
        const { DshError, usageError } = await import('../src/core/errors.js')
        let timeoutMs: number
        try {
          timeoutMs = parseDuration(opts.timeout ?? '90s')
        } catch (e) {
          throw usageError('invalid_timeout', (e as Error).message)
        }
        const { asFlags } = await import('../src/cli/field-flags.js')
        app.progress.set(await waitLabel(opts))
        const r = await pay(
          app,
          { ...opts, orderId: opts.order },
          { wait: opts.wait === true, timeoutMs },
        ).catch((e) => {
          throw asFlags(e, { orderId: '--order' })
        })
        const p = r.payment
        const { displayZone } = await import('../src/tenants/tenants.js')
        const zone = app.out.json ? 'UTC' : await displayZone(app, { branch: p.branch })
        app.out.result({ ...p, replayed: r.replayed, skipped: r.skipped }, () =>
          [
            r.replayed ? '(replayed: this idempotency key was used before)' : '',
            ...r.skipped.map((s) => `skipped ${s}`),
            renderPayment(app, p, zone),
          ]
            .filter(Boolean)
            .join('\n'),
        )
        const kind = payExitKind(p, opts.wait === true)
        if (kind !== 'ok') {
          const what =
            p.status === 'pending'
              ? 'is still pending'
              : p.failure
                ? `${p.status}: ${p.failure.message}`
                : `is ${p.status}`
          throw new DshError(kind, `payment_${p.status}`, `payment ${p.id} ${what}`, {
            hint:
              p.status === 'unknown' || p.status === 'pending'
                ? `resolve it with \`dsh payments sync ${p.id}\``
                : undefined,
          })
        }
      }),
    )
}
