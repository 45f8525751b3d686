import { Command } from 'commander'
import type { CommandContext } from './context.js'

export function demoCommand(ctx: CommandContext): Command {
  return new Command('demo')
    .description(
      'Run a whole day of a three-branch restaurant group against the sandbox, end to end, in under a minute',
    )
    .option('--home <dir>', 'build the store here (empty or new) instead of a temporary directory')
    .option('--keep', 'leave the store in place afterwards (an ordinary DSH_HOME)')
    .addHelpText(
      'after',
      `
Examples:
  dsh demo
  dsh demo --home /tmp/dsh-demo --keep && DSH_HOME=/tmp/dsh-demo dsh payments list
  dsh demo --json

It never touches your store: DSH_HOME, DSH_DB and DSH_MASTER_KEY are ignored. Progress goes to
stderr; the closing views (or, with --json, {"home","branches","payments","batches","planted","found"})
to stdout.`,
    )
    .action(
      ctx.action(async (app, opts: { home?: string; keep?: boolean }) => {
        const { runDemo } = await import('../src/demo/index.js')
        const r = await runDemo(app.rt, { home: opts.home, keep: opts.keep === true }, (line) =>
          app.rt.stderr.write(`${line}\n`),
        )
        const doc = {
          home: r.home,
          branches: r.branches,
          payments: r.payments,
          batches: r.batches,
          planted: r.planted,
          found: r.found,
        }
        const same = JSON.stringify(r.planted) === JSON.stringify(r.found)
        // With --json the document owns stdout; the closing views still reach the person.
        if (app.out.json) app.rt.stderr.write(`${r.views}\n`)
        app.out.result(doc, () =>
          [
            r.views,
            '',
            `Planted ${r.planted.length} problems in the statements; reconciliation found ${r.found.length}${same ? ', exactly those' : ''}.`,
            ...r.found.map((f) => `  ${f.category.padEnd(24)} ${f.reference}`),
            `Done in ${(r.elapsedMs / 1000).toFixed(1)} s.${r.kept ? ` Try: DSH_HOME=${r.home} dsh payments list` : ''}`,
          ].join('\n'),
        )
        if (!same) {
          const { DshError } = await import('../src/core/errors.js')
          throw new DshError(
            'findings',
            'demo_mismatch',
            'reconciliation did not find exactly the planted problems',
          )
        }
      }),
    )
}
