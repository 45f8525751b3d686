import { Command } from 'commander'
import type { App } from '../src/app.js'
import { formatMoney } from '../src/core/money/format.js'
import type { BatchView } from '../src/settlement/view.js'
import type { CommandContext } from './context.js'

interface SettleOptions {
  branch?: string
  all?: boolean
  gateway?: string
  date?: string
  dryRun?: boolean
}

export function batchTable(app: App, rows: readonly BatchView[]): string {
  const m = (minor: bigint, currency: string) => formatMoney({ minor: BigInt(minor), currency })
  return app.out.table(
    [
      'Batch',
      'Reference',
      'Branch',
      'Gateway',
      'Period end',
      'Status',
      'Payments',
      'Gross',
      'Fees',
      'Net',
    ],
    rows.map((b) => [
      b.id,
      b.reference,
      b.branch,
      b.gateway,
      b.periodEnd,
      b.status,
      b.paymentCount,
      m(b.grossMinor, b.currency),
      m(b.feesMinor, b.currency),
      m(b.netMinor, b.currency),
    ]),
  )
}

export function settleCommand(ctx: CommandContext): Command {
  return new Command('settle')
    .description(
      'Settle a branch: batch its succeeded payments per gateway and currency, send the transfers; cash becomes a cash-up for the branch to bank',
    )
    .option('--branch <code>', 'the branch to settle')
    .option('--all', 'every settlement account with --auto on')
    .option('--gateway <type>', 'only this gateway (mpesa, mpesa-kcb, stripe, square, cash)')
    .option('--date <YYYY-MM-DD>', 'the run’s date in the branch time zone (default today there)')
    .option('--dry-run', 'show what would be settled; write and send nothing')
    .addHelpText(
      'after',
      `
Examples:
  dsh settle --branch westlands --dry-run
  dsh settle --branch westlands --date 2026-11-30 --json
  dsh settle --all`,
    )
    .action(
      ctx.action(async (app, opts: SettleOptions) => {
        const { usageError, DshError } = await import('../src/core/errors.js')
        if (Boolean(opts.branch) === Boolean(opts.all))
          throw usageError(
            'branch_or_all',
            'give exactly one of --branch <code> or --all',
            'e.g. dsh settle --branch westlands',
          )
        const { settle } = await import('../src/settlement/settle.js')
        const { report, failures } = await settle(app, opts)
        app.out.result(report, () => {
          const lines: string[] = []
          if (report.dryRun) lines.push('dry run: nothing was written or sent')
          const transfers = report.batches.filter((b) => b.kind !== 'cash_deposit')
          if (transfers.length > 0) lines.push(batchTable(app, transfers))
          for (const c of report.batches.filter((b) => b.kind === 'cash_deposit'))
            lines.push(
              `bank ${formatMoney({ minor: BigInt(c.expectedMinor ?? 0n), currency: c.currency })} in cash at ${c.branch} (deposit reference ${c.depositReference})`,
            )
          for (const c of report.carriedOver)
            lines.push(
              c.reason === 'below_minimum'
                ? `carried over: ${c.branch} ${c.gateway} ${c.currency}: ${c.paymentCount} payment(s), net ${formatMoney({ minor: BigInt(c.netMinor), currency: c.currency })} is below the minimum ${formatMoney({ minor: BigInt(c.minAmountMinor ?? 0n), currency: c.currency })}`
                : `not settled: ${c.branch} ${c.gateway} ${c.currency}: ${c.paymentCount} payment(s) in a currency with no settlement account (set one with \`dsh branch settlement-account ${c.branch} --currency ${c.currency} …\`)`,
            )
          if (report.voidedFiles.length > 0)
            lines.push(
              `moved to outbox/void/ (files of cancelled or failed batches): ${report.voidedFiles.join(', ')}`,
            )
          if (report.sent.length > 0)
            lines.push(`sent ${report.sent.length} transfer(s): ${report.sent.join(', ')}`)
          if (report.files.length > 0)
            lines.push(
              `wrote ${report.files.length} file(s) to upload to the bank:`,
              ...report.files.map((f) => `  ${f}`),
            )
          if (report.nothingToDo)
            lines.push('nothing to do: no new batch or cash-up and no transfer to send')
          return lines.join('\n')
        })
        if (failures.length > 0)
          throw new DshError(
            'unavailable',
            'transfer_not_sent',
            `${failures.length} transfer(s) could not be sent: ${failures.map((f) => `${f.reference}: ${f.message}`).join('; ')}`,
            {
              hint: 'run `dsh settle` again, or `dsh settlements retry <id>`: the same Idempotency-Key is used',
            },
          )
      }),
    )
}
