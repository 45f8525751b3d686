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
      'write unreadable rows to this file and import the rest',
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
          opts: { branch: string; profile: string; dryRun?: boolean; skipBadRows?: string },
        ) => {
          const { importStatement } = await import('../src/statements/import.js')
          const r = await importStatement(app, {
            branch: opts.branch,
            profile: opts.profile,
            file,
            input: file === '-' ? (app.rt.stdin as never) : undefined,
            dryRun: opts.dryRun === true,
            rejectsFile: opts.skipBadRows,
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
  return reconcile
}
