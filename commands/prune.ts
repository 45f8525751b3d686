import { Command } from 'commander'
import type { CommandContext } from './context.js'

export function pruneCommand(ctx: CommandContext): Command {
  return new Command('prune')
    .description(
      'Remove expired live events and finished callbacks (events-retention, inbox-retention)',
    )
    .option('--dry-run', 'count what would be removed; remove nothing')
    .addHelpText(
      'after',
      `
Removes events older than events-retention (default 30d) and applied, ignored and orphaned
callbacks older than inbox-retention (default 90d), in short transactions (about 10 ms each),
so it can run beside the daemon. Payments, attempts, settlement and audit rows are never removed.
The daemon runs the same every day at 03:41.

Examples:
  dsh prune --dry-run
  dsh config set events-retention 14d && dsh prune --json`,
    )
    .action(
      ctx.action(async (app, opts: { dryRun?: boolean }) => {
        const { prune } = await import('../src/retention/retention.js')
        const r = await prune(app, { dryRun: opts.dryRun === true })
        app.out.result(r, () =>
          [
            r.dryRun ? 'dry run: nothing was removed' : undefined,
            `events: ${r.dryRun ? 'would remove' : 'removed'} ${r.events.removed} appended before ${r.events.before} (retention ${r.events.retention}); oldest kept: ${r.events.oldestKeptSeq ?? 'none'}`,
            `inbox: ${r.dryRun ? 'would remove' : 'removed'} ${r.inbox.removed} ${r.inbox.statuses.join('/')} callbacks received before ${r.inbox.before} (retention ${r.inbox.retention})`,
            r.dryRun
              ? undefined
              : `${r.transactions} transactions, longest ${r.maxTransactionMs} ms, ${r.elapsedMs} ms in all`,
          ]
            .filter(Boolean)
            .join('\n'),
        )
      }),
    )
}
