import { Command } from 'commander'
import { DEFAULT_LIST_LIMIT } from '../src/core/list.js'
import { formatMoney } from '../src/core/money/format.js'
import { formatLocal, INSTANT_HELP, localColumn } from '../src/core/time.js'
import type { CommandContext } from './context.js'
import { renderPayment } from './pay.js'

const paymentColumns = (created: string) => [
  { header: 'Payment', priority: 100 },
  { header: created, priority: 90 },
  { header: 'Branch', priority: 60 },
  { header: 'Amount', priority: 95, align: 'right' as const },
  { header: 'Method', priority: 30 },
  { header: 'Gateway', priority: 40 },
  { header: 'Status', priority: 95 },
  { header: 'Receipt', priority: 50 },
]

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
    .option('--since <time>', 'created at or after this instant (included)')
    .option('--until <time>', 'created before this instant (excluded)')
    .option('--gateway <type>', 'only payments through this gateway')
    .option('--limit <n>', `at most n payments, newest first (default ${DEFAULT_LIST_LIMIT})`)
    .option('--all', 'every matching payment (streamed)')
    .addHelpText(
      'after',
      `
${INSTANT_HELP}
Times are shown in the branch’s time zone (with --branch), else the tenant’s; --json keeps UTC.

Examples:
  dsh payments list --branch westlands --status failed
  dsh payments list --since yesterday --until today
  dsh payments list --status unknown --all --json`,
    )
    .action(
      ctx.action(async (app, opts: Record<string, string | undefined>) => {
        const { paymentsList } = await import('../src/payments/queries.js')
        const { asFlags } = await import('../src/cli/field-flags.js')
        const { emitList } = await import('../src/cli/list.js')
        const listing = await paymentsList(app, {
          ...opts,
          all: (opts['all'] as unknown) === true,
        }).catch((e) => {
          throw asFlags(e)
        })
        const created = localColumn('Created', listing.zone, app.clock.now())
        const sums = new Map<string, { minor: bigint; n: number }>()
        await emitList(app, {
          pages: listing.payments,
          more: listing.more,
          empty: 'no payments match',
          render: (rows, first) => {
            for (const p of rows) {
              if (p.status !== 'succeeded') continue
              const s = sums.get(p.currency) ?? { minor: 0n, n: 0 }
              s.minor += BigInt(p.amountMinor)
              s.n++
              sums.set(p.currency, s)
            }
            return app.out.table(
              paymentColumns(created.header),
              rows.map((p) => [
                p.id,
                created.cell(p.createdAt),
                p.branch,
                formatMoney({ minor: BigInt(p.amountMinor), currency: p.currency }),
                p.method,
                p.gateway ?? '',
                p.status,
                p.receiptNumber ?? '',
              ]),
              { header: first },
            )
          },
          after: () =>
            [...sums.entries()]
              .map(
                ([currency, s]) =>
                  `Total succeeded: ${formatMoney({ minor: s.minor, currency })} (${s.n} payment${s.n === 1 ? '' : 's'})`,
              )
              .join('\n'),
        })
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
        const { displayZone } = await import('../src/tenants/tenants.js')
        const zone = app.out.json ? 'UTC' : await displayZone(app, { branch: p.branch })
        app.out.result(p, () =>
          [
            renderPayment(app, p, zone),
            '',
            p.attempts.length
              ? app.out.table(
                  [
                    '#',
                    'Gateway',
                    'Status',
                    { header: 'Kind', priority: 20 },
                    { header: 'Code', priority: 30 },
                    'Message',
                    { header: 'Ref', priority: 25 },
                    { header: 'ms', priority: 10 },
                  ],
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
              ['At', { header: 'From', priority: 40 }, 'To', { header: 'By', priority: 30 }, 'Why'],
              p.timeline.map((e) => [
                formatLocal(e.at, zone),
                e.from ?? '',
                e.to,
                e.actor,
                e.reason,
              ]),
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
        app.progress.set(
          id
            ? `asking the gateway about ${id.trim()}`
            : 'asking the gateways about open payments due for a check',
        )
        if (id) {
          const { paymentShow } = await import('../src/payments/queries.js')
          await syncPayment(app, id.trim())
          const p = await paymentShow(app, id.trim())
          const { displayZone } = await import('../src/tenants/tenants.js')
          const zone = app.out.json ? 'UTC' : await displayZone(app, { branch: p.branch })
          app.out.result(p, () => renderPayment(app, p, zone))
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
