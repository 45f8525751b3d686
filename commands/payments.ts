import { Command } from 'commander'
import { formatMoney } from '../src/core/money/format.js'
import type { CommandContext } from './context.js'
import { renderPayment } from './pay.js'

export function paymentsCommand(ctx: CommandContext): Command {
  const payments = new Command('payments').description('Payments: list, inspect and resolve')
  payments
    .command('list')
    .description('List payments, newest first')
    .option('--branch <code>', 'only this branch')
    .option(
      '--status <status>',
      'created | pending | succeeded | failed | cancelled | unknown | needs_review | refunded',
    )
    .option('--since <time>', 'created at or after this ISO date/time')
    .option('--gateway <type>', 'only payments through this gateway')
    .option('--limit <n>', 'at most n payments')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh payments list --branch westlands --status failed\n  dsh payments list --status unknown --json',
    )
    .action(
      ctx.action(async (app, opts: Record<string, string | undefined>) => {
        const { paymentsList } = await import('../src/payments/queries.js')
        const rows = await paymentsList(app, opts)
        app.out.result(rows, () =>
          rows.length === 0
            ? 'no payments match'
            : app.out.table(
                [
                  'Payment',
                  'Created',
                  'Branch',
                  'Amount',
                  'Method',
                  'Gateway',
                  'Status',
                  'Receipt',
                ],
                rows.map((p) => [
                  p.id,
                  p.createdAt,
                  p.branch,
                  formatMoney({ minor: BigInt(p.amountMinor), currency: p.currency }),
                  p.method,
                  p.gateway ?? '',
                  p.status,
                  p.receiptNumber ?? '',
                ]),
              ),
        )
      }),
    )
  payments
    .command('show')
    .description('Show a payment with its attempts and timeline')
    .argument('<id>')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh payments show pay_01JD…\n  dsh payments show pay_01JD… --json',
    )
    .action(
      ctx.action(async (app, id: string) => {
        const { paymentShow } = await import('../src/payments/queries.js')
        const p = await paymentShow(app, id)
        app.out.result(p, () =>
          [
            renderPayment(app, p),
            '',
            p.attempts.length
              ? app.out.table(
                  ['#', 'Gateway', 'Status', 'Kind', 'Code', 'Message', 'Ref', 'ms'],
                  p.attempts.map((a) => [
                    a.seq,
                    a.gateway,
                    a.status,
                    a.failureKind ?? '',
                    a.code ?? '',
                    a.message ?? '',
                    a.gatewayRef ?? '',
                    a.latencyMs ?? '',
                  ]),
                )
              : 'no gateway attempts',
            '',
            app.out.table(
              ['At', 'From', 'To', 'By', 'Why'],
              p.timeline.map((e) => [e.at, e.from ?? '', e.to, e.actor, e.reason]),
            ),
          ].join('\n'),
        )
      }),
    )
  payments
    .command('sync')
    .description('Ask the gateway about pending and unknown payments and apply the answer')
    .argument('[id]', 'one payment')
    .option('--stale', 'every open payment due for a check')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh payments sync pay_01JD…\n  dsh payments sync --stale --json',
    )
    .action(
      ctx.action(async (app, id: string | undefined, opts: { stale?: boolean }) => {
        const { usageError } = await import('../src/core/errors.js')
        if (!id === !opts.stale)
          throw usageError('sync_target', 'give a payment id or --stale (not both)')
        const { syncPayment, syncStale } = await import('../src/payments/sync.js')
        if (id) {
          const { paymentShow } = await import('../src/payments/queries.js')
          await syncPayment(app, id.trim())
          const p = await paymentShow(app, id.trim())
          app.out.result(p, () => renderPayment(app, p))
          return
        }
        const rows = await syncStale(app)
        app.out.result(rows, () =>
          rows.length === 0
            ? 'no open payments are due for a check'
            : app.out.table(
                ['Payment', 'Branch', 'Status', 'Receipt'],
                rows.map((p) => [p.id, p.branch, p.status, p.receiptNumber ?? '']),
              ),
        )
      }),
    )
  return payments
}
