import { Command } from 'commander'
import type { CommandContext } from './context.js'

export function reconcileCommand(ctx: CommandContext): Command {
  const reconcile = new Command('reconcile').description(
    'Import bank and M-Pesa statements and reconcile them against payments and settlements',
  )
  reconcile
    .command('import')
    .description('Import a statement CSV (atomic and idempotent: re-importing adds nothing)')
    .argument('<file>', 'the CSV file, or - for standard input')
    .requiredOption('--branch <code>', 'the branch the statement belongs to')
    .requiredOption('--profile <name|path.json>', 'mpesa | bank | a JSON profile file')
    .option('--dry-run', 'read and check everything, write nothing')
    .option(
      '--skip-bad-rows <rejects.csv>',
      'write unreadable rows to this new file (never a link or the statement) and import the rest',
    )
    .option('--force', 'with --skip-bad-rows: replace the rejects file if it exists')
    .option(
      '--max-bytes <size>',
      'refuse a larger statement before reading it (stdin: once read), e.g. 512MiB (default 2GiB)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  dsh reconcile import statement.csv --branch westlands --profile mpesa\n  dsh reconcile import kcb.csv --branch westlands --profile ./kcb.json --dry-run --json',
    )
    .action(
      ctx.action(
        async (
          app,
          file: string,
          opts: {
            branch: string
            profile: string
            dryRun?: boolean
            skipBadRows?: string
            force?: boolean
            maxBytes?: string
          },
        ) => {
          const { importStatement } = await import('../src/statements/import.js')
          const { parseMaxBytes } = await import('../src/statements/files.js')
          if (opts.force && !opts.skipBadRows) {
            const { usageError } = await import('../src/core/errors.js')
            throw usageError('force_without_rejects', '--force applies to --skip-bad-rows only')
          }
          const r = await importStatement(app, {
            branch: opts.branch,
            profile: opts.profile,
            file,
            input: file === '-' ? (app.rt.stdin as never) : undefined,
            dryRun: opts.dryRun === true,
            rejectsFile: opts.skipBadRows,
            force: opts.force === true,
            maxBytes: parseMaxBytes(opts.maxBytes),
          })
          app.out.result(r, () =>
            [
              `${opts.dryRun ? 'dry run: would import' : 'imported'} ${r.imported} of ${r.lines} line(s) from ${r.file} (${r.profile}) into statement ${r.statementId}`,
              `period ${r.period.from} to ${r.period.to}; already present ${r.alreadyPresent}; rejected ${r.rejected}; balance breaks ${r.balanceBreaks.length}`,
            ].join('\n'),
          )
        },
      ),
    )
  reconcile
    .command('run')
    .description(
      'Match statement lines to payments and settlement batches; exit 8 on discrepancies',
    )
    .requiredOption('--branch <code>', 'the branch to reconcile')
    .option(
      '--from <day|time>',
      'start (yyyy-mm-dd in the branch time zone, or ISO); default the statements’ start',
    )
    .option('--to <day|time>', 'end (that whole day counts); default the statements’ end')
    .option(
      '--grace <duration>',
      'how long a processing batch may wait for its credit, e.g. 3d',
      '3d',
    )
    .option(
      '--fail-on <categories>',
      'only these categories (comma-separated) make the exit code 8',
    )
    .option(
      '--tolerance <amount|pct>',
      'pair unique candidates whose amount differs by at most this (reported as amount_mismatch)',
    )
    .option('--dry-run', 'match and report, write nothing')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh reconcile run --branch westlands\n  dsh reconcile run --branch westlands --from 2026-11-01 --to 2026-11-30 --fail-on missing_in_statement --json',
    )
    .action(
      ctx.action(
        async (
          app,
          opts: {
            branch: string
            from?: string
            to?: string
            grace?: string
            failOn?: string
            tolerance?: string
            dryRun?: boolean
          },
        ) => {
          const { reconcileRun } = await import('../src/reconciliation/run.js')
          const { report, failing } = await reconcileRun(app, {
            branch: opts.branch,
            from: opts.from,
            to: opts.to,
            grace: opts.grace,
            failOn: opts.failOn ? [opts.failOn] : undefined,
            tolerance: opts.tolerance,
            dryRun: opts.dryRun === true,
          })
          const { renderReport } = await import('./reconcile-render.js')
          app.out.result(report, () => renderReport(app, report, 'table'))
          await failOnFindings(failing)
        },
      ),
    )
  reconcile
    .command('report')
    .description('Print a reconciliation run’s report again')
    .argument('<run-id>')
    .option('--format <format>', 'table | json | csv', 'table')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh reconcile report rr_01H...\n  dsh reconcile report rr_01H... --format csv > discrepancies.csv',
    )
    .action(
      ctx.action(async (app, runId: string, opts: { format: string }) => {
        const { reconcileReport } = await import('../src/reconciliation/run.js')
        const { renderReport } = await import('./reconcile-render.js')
        const format = app.out.json ? 'json' : opts.format
        if (!['table', 'json', 'csv'].includes(format)) {
          const { usageError } = await import('../src/core/errors.js')
          throw usageError('invalid_format', `--format must be table, json or csv, not "${format}"`)
        }
        const { text, report } = await reconcileReport(app, runId)
        // JSON and CSV are data for files; the table is for a terminal (controls shown as `?`).
        if (format === 'table') app.out.print(`${renderReport(app, report, format)}\n`)
        else
          app.rt.stdout.write(
            format === 'json' ? `${text}\n` : `${renderReport(app, report, format)}\n`,
          )
      }),
    )
  reconcile
    .command('explain')
    .description('Each candidate considered for a statement line and the first criterion it failed')
    .argument('<line-id>')
    .addHelpText('after', '\nExamples:\n  dsh reconcile explain sl_3f2a...')
    .action(
      ctx.action(async (app, lineId: string) => {
        const { explainLine } = await import('../src/reconciliation/explain.js')
        const e = await explainLine(app, lineId)
        const l = e.statementLine
        app.out.result(e, () =>
          [
            `${l.id}  ${l.file}:${l.line}  ${l.bookedAt}  ${l.currency} ${l.amount}  ${l.reference}  (${e.state}${e.match ? ` to ${e.match.paymentId ?? e.match.batchId} by ${e.match.pass}` : ''})`,
            ...e.decisions.map(
              (d) =>
                `decision: ${d.decision}${d.targetId ? ` ${d.targetId}` : ''} by ${d.by} at ${d.at}: ${d.reason}`,
            ),
            e.candidates.length === 0
              ? 'no candidate payments'
              : app.out.table(
                  ['Payment', 'Status', 'Created', 'Amount', 'Receipt', 'Result'],
                  e.candidates.map((c) => [
                    c.paymentId,
                    c.status,
                    c.createdAt,
                    `${c.currency} ${c.amount}`,
                    c.receiptNumber ?? '',
                    c.failed === null ? c.detail : `fails ${c.failed}: ${c.detail}`,
                  ]),
                ),
          ].join('\n'),
        )
      }),
    )
  for (const kind of ['confirm', 'reject', 'ignore'] as const) {
    const cmd = reconcile
      .command(kind)
      .description(
        kind === 'confirm'
          ? 'Pair a statement line with a payment (default: the one the last run proposed)'
          : kind === 'reject'
            ? 'Refuse a pair for good: it is never proposed again'
            : 'Leave a statement line out of every report from now on',
      )
      .argument('<line-id>')
    if (kind !== 'ignore') cmd.argument('[target-id]', 'the payment')
    cmd
      .requiredOption('--reason <text>', 'why (audited)')
      .addHelpText(
        'after',
        `\nExamples:\n  dsh reconcile ${kind} sl_3f2a...${kind === 'ignore' ? '' : ' pay_01H...'} --reason "checked with the cashier"`,
      )
      .action(
        ctx.action(async (app, lineId: string, ...rest: unknown[]) => {
          const target = kind === 'ignore' ? undefined : (rest[0] as string | undefined)
          const opts = rest[kind === 'ignore' ? 0 : 1] as { reason: string }
          const { decide } = await import('../src/reconciliation/decisions.js')
          const r = await decide(app, kind, { lineId, targetId: target, reason: opts.reason })
          app.out.result(
            r,
            () =>
              `${kind}ed line ${r.statementLine.id}${r.payment ? ` with payment ${r.payment.id}` : ''}: ${r.reason}`,
          )
        }),
      )
  }
  reconcile
    .command('adopt')
    .description(
      'Make a payment dsh lost track of (lost callback) succeeded with a statement line’s receipt',
    )
    .argument('<line-id>')
    .argument('<payment-id>')
    .option('--reason <text>', 'why (audited)')
    .addHelpText('after', '\nExamples:\n  dsh reconcile adopt sl_3f2a... pay_01H...')
    .action(
      ctx.action(async (app, lineId: string, paymentId: string, opts: { reason?: string }) => {
        const { adopt } = await import('../src/reconciliation/decisions.js')
        const r = await adopt(app, { lineId, paymentId, reason: opts.reason })
        app.out.result(
          r,
          () =>
            `payment ${r.payment?.id} is succeeded with receipt ${r.payment?.receiptNumber ?? '(none)'}, matched to line ${r.statementLine.id}`,
        )
      }),
    )
  return reconcile
}

async function failOnFindings(failing: number): Promise<void> {
  if (failing === 0) return
  const { DshError } = await import('../src/core/errors.js')
  throw new DshError(
    'findings',
    'reconciliation_discrepancies',
    `${failing} discrepanc${failing === 1 ? 'y' : 'ies'} remain`,
    {
      hint: 'see the report; decide with `dsh reconcile confirm|reject|ignore|adopt`',
    },
  )
}
