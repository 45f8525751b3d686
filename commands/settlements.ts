import { Command, Option } from 'commander'
import { DEFAULT_LIST_LIMIT } from '../src/core/list.js'
import { formatMoney } from '../src/core/money/format.js'
import type { CommandContext } from './context.js'
import { batchTable } from './settle.js'

/** A cancel's or fail's lines: what happened, where the files went, what to do at the bank. */
function stoppedLines(
  b: { voidedFiles: string[]; warning: string | null },
  headline: string,
): string {
  const lines = [headline]
  if (b.voidedFiles.length > 0)
    lines.push(`its files left the outbox for outbox/void/: ${b.voidedFiles.join(', ')}`)
  if (b.warning) lines.push(b.warning)
  return lines.join('\n')
}

export function settlementsCommand(ctx: CommandContext): Command {
  const s = new Command('settlements').description(
    'Settlement batches: list, inspect, complete, fail, retry, cancel, export',
  )
  s.command('list')
    .description('List settlement batches, newest first')
    .option('--branch <code>', 'only this branch')
    .option(
      '--status <status>',
      'pending | processing | completed | failed | cancelled (transfers); awaiting_deposit | deposited | cancelled (cash-ups)',
    )
    .option('--since <date>', 'created at or after this ISO date/time')
    .option('--limit <n>', `at most n batches, newest first (default ${DEFAULT_LIST_LIMIT})`)
    .addHelpText(
      'after',
      '\nExamples:\n  dsh settlements list --branch westlands\n  dsh settlements list --status failed --json',
    )
    .action(
      ctx.action(async (app, opts: Record<string, string | undefined>) => {
        const { listSettlements } = await import('../src/settlement/lifecycle.js')
        // Newest first, a page by default (like `payments list`): batches grow with every run.
        // One row more than the page tells whether more match.
        const limit = opts['limit'] === undefined ? DEFAULT_LIST_LIMIT : undefined
        const rows = await listSettlements(
          app,
          limit === undefined ? opts : { ...opts, limit: String(limit + 1) },
        )
        const more = limit !== undefined && rows.length > limit
        if (more) rows.length = limit
        app.out.result(rows, () =>
          rows.length === 0 ? 'no settlement batches match' : batchTable(app, rows),
        )
        if (more) app.out.info('more batches match — use --limit N')
      }),
    )
  s.command('show')
    .description('Show a batch with its payments and timeline')
    .argument('<id>')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh settlements show stl_01J…\n  dsh settlements show stl_01J… --json',
    )
    .action(
      ctx.action(async (app, id: string) => {
        const { showSettlement } = await import('../src/settlement/lifecycle.js')
        const b = await showSettlement(app, id)
        const m = (minor: bigint) => formatMoney({ minor: BigInt(minor), currency: b.currency })
        const cash = b.kind === 'cash_deposit'
        app.out.result(b, () =>
          [
            app.out.fields([
              [cash ? 'Cash-up' : 'Batch', b.id],
              ['Kind', cash ? 'cash deposit (the branch banks it)' : 'transfer'],
              ['Reference', b.reference],
              ...(cash
                ? ([
                    ['Deposit reference', b.depositReference ?? ''],
                    ['Expected deposit', m(b.expectedMinor ?? 0n)],
                  ] as [string, string][])
                : []),
              ['Branch', b.branch],
              ['Gateway', b.gateway],
              ['Period', `${b.periodStart ?? '…'} → ${b.periodEnd}`],
              ['Status', b.status],
              ['Payments', b.paymentCount],
              ['Gross', m(b.grossMinor)],
              ['Transaction fees', m(b.transactionFeesMinor)],
              ['Conversion fees', m(b.conversionFeesMinor)],
              ['Settlement fee', m(b.settlementFeeMinor)],
              ['Net', m(b.netMinor)],
              [
                'Transfer',
                b.transfer
                  ? `${b.transfer.adapter} ${b.transfer.transferId ?? ''} ${b.transfer.files.join(' ')}`.trim()
                  : '(not sent)',
              ],
              ['Bank reference', b.bankRef ?? ''],
              ['Failure', b.failureReason ?? ''],
            ]),
            app.out.table(
              ['Payment', 'Completed', 'Receipt', 'Amount', 'Fee', 'Net'],
              b.payments.map((p) => [
                p.paymentId,
                p.completedAt ?? '',
                p.receiptNumber ?? '',
                m(p.amountMinor),
                m(p.feeMinor),
                m(p.netMinor),
              ]),
            ),
            b.timeline.map((t) => `${t.at}  ${t.action}  ${t.actor}`).join('\n'),
          ].join('\n\n'),
        )
      }),
    )
  s.command('complete')
    .description('Mark a batch completed (the bank paid it)')
    .argument('<id>')
    .option('--bank-ref <ref>', 'the bank’s reference for the credit')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh settlements complete stl_01J… --bank-ref FT2611300001',
    )
    .action(
      ctx.action(async (app, id: string, opts: { bankRef?: string }) => {
        const filled = await app.prompter.fill({ ...opts }, [
          { key: 'bankRef', flag: '--bank-ref', message: 'Bank reference' },
        ])
        const { completeSettlement } = await import('../src/settlement/lifecycle.js')
        const b = await completeSettlement(app, id, { bankRef: filled['bankRef'] ?? '' })
        app.out.result(b, () => `settlement ${b.reference} completed (bank reference ${b.bankRef})`)
      }),
    )
  s.command('fail')
    .description('Mark a batch failed; its payments go back to the next run')
    .argument('<id>')
    .option('--reason <text>', 'why it failed')
    .addHelpText('after', '\nExamples:\n  dsh settlements fail stl_01J… --reason "account closed"')
    .action(
      ctx.action(async (app, id: string, opts: { reason?: string }) => {
        const filled = await app.prompter.fill({ ...opts }, [
          { key: 'reason', flag: '--reason', message: 'Reason' },
        ])
        const { failSettlement } = await import('../src/settlement/lifecycle.js')
        const b = await failSettlement(app, id, { reason: filled['reason'] ?? '' })
        app.out.result(b, () =>
          stoppedLines(b, `settlement ${b.reference} failed; its payments are released`),
        )
      }),
    )
  s.command('retry')
    .description('Resend a pending batch (same idempotency key), or rebatch a failed one')
    .argument('<id>')
    .addHelpText('after', '\nExamples:\n  dsh settlements retry stl_01J…')
    .action(
      ctx.action(async (app, id: string) => {
        const { retrySettlement } = await import('../src/settlement/lifecycle.js')
        const r = await retrySettlement(app, id)
        app.out.result(
          r.batch,
          () =>
            `settlement ${r.batch.reference} is ${r.batch.status}${r.send.failure ? `: ${r.send.failure}` : ''}`,
        )
        if (r.send.failure && r.batch.status === 'pending') {
          const { DshError } = await import('../src/core/errors.js')
          throw new DshError('unavailable', 'transfer_not_sent', r.send.failure)
        }
      }),
    )
  s.command('cancel')
    .description('Cancel a batch not yet paid; its payments go back to the next run')
    .argument('<id>')
    .addHelpText('after', '\nExamples:\n  dsh settlements cancel stl_01J… --yes')
    .action(
      ctx.action(async (app, id: string) => {
        const { cancelSettlement } = await import('../src/settlement/lifecycle.js')
        const b = await cancelSettlement(app, id, { yes: app.globals.yes })
        app.out.result(b, () =>
          stoppedLines(
            b,
            `${b.kind === 'cash_deposit' ? 'cash-up' : 'settlement'} ${b.reference} cancelled; its payments are released`,
          ),
        )
      }),
    )
  s.command('export')
    .description('One line per payment with fee, settlement fee share and net (Σ net = batch net)')
    .argument('<id>')
    .addOption(
      new Option('--format <format>', 'csv or json').choices(['csv', 'json']).default('csv'),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  dsh settlements export stl_01J… > batch.csv\n  dsh settlements export stl_01J… --format json',
    )
    .action(
      ctx.action(async (app, id: string, opts: { format: string }) => {
        const { exportSettlement, exportCsv } = await import('../src/settlement/lifecycle.js')
        const rows = await exportSettlement(app, id)
        if (opts.format === 'json' || app.out.json) {
          const { toJson } = await import('../src/cli/json.js')
          app.rt.stdout.write(`${toJson(rows)}\n`)
        } else app.rt.stdout.write(exportCsv(rows))
      }),
    )
  s.command('next')
    .description('The next scheduled cut-off of each settlement account')
    .option('--branch <code>', 'only this branch')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh settlements next\n  dsh settlements next --branch westlands --json',
    )
    .action(
      ctx.action(async (app, opts: { branch?: string }) => {
        const { nextSettlements } = await import('../src/settlement/lifecycle.js')
        const rows = await nextSettlements(app, opts)
        app.out.result(rows, () =>
          rows.length === 0
            ? 'no settlement accounts'
            : app.out.table(
                ['Branch', 'Currency', 'Schedule', 'Auto', 'Next run', 'Period start'],
                rows.map((r) => [
                  r.branch,
                  r.currency,
                  r.schedule,
                  r.auto ? 'yes' : 'no',
                  r.nextRunAt,
                  r.periodStart,
                ]),
              ),
        )
      }),
    )
  return s
}
