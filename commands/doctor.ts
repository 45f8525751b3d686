import { Command } from 'commander'
import type { CommandContext } from './context.js'

export function doctorCommand(ctx: CommandContext): Command {
  return new Command('doctor')
    .description(
      'Check the store’s settlement invariants: exit 0 when they hold, 8 naming the first violation',
    )
    .addHelpText('after', '\nExamples:\n  dsh doctor\n  dsh doctor --json')
    .action(
      ctx.action(async (app) => {
        const { doctor } = await import('../src/settlement/doctor.js')
        const r = await doctor(app)
        app.out.result(r, () =>
          r.ok
            ? `settlement invariants hold: ${r.batches} batch(es), ${r.items} member row(s)`
            : [`${r.violations.length} violation(s):`, ...r.violations.map((x) => `  ${x}`)].join(
                '\n',
              ),
        )
        if (!r.ok) {
          const { DshError } = await import('../src/core/errors.js')
          throw new DshError('findings', 'settlement_invariant', r.violations[0] ?? 'violation', {
            hint: 'see `dsh doctor --json` for every violation; do not settle again until it is explained',
          })
        }
      }),
    )
}
