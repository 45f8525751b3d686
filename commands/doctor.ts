import { Command } from 'commander'
import type { CommandContext } from './context.js'

export function doctorCommand(ctx: CommandContext): Command {
  return new Command('doctor')
    .description(
      'Check the store’s settlement invariants, its counters and the outbox: exit 0 when they hold, 8 naming the first violation',
    )
    .option(
      '--repair-counters',
      'rebuild the counters behind /metrics, health and report from a full count when they differ',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  dsh doctor\n  dsh doctor --json\n  dsh doctor --repair-counters',
    )
    .action(
      ctx.action(async (app, opts: { repairCounters?: boolean }) => {
        const { doctor } = await import('../src/settlement/doctor.js')
        const { checkCounters, repairCounters } = await import('../src/reports/counters.js')
        const r = await doctor(app)
        let counters = await checkCounters(app)
        let repaired = 0
        if (opts.repairCounters && !counters.ok) {
          repaired = counters.mismatches.length
          await repairCounters(app, repaired)
          counters = await checkCounters(app)
        }
        const violations = [...r.violations, ...counters.mismatches]
        const ok = r.ok && counters.ok
        const result = {
          ...r,
          ok,
          violations,
          counters: { ...counters, ...(opts.repairCounters ? { repaired } : {}) },
        }
        app.out.result(result, () => {
          const lines = ok
            ? [
                `settlement invariants hold: ${r.batches} batch(es), ${r.items} member row(s)`,
                `counters match a full count: ${counters.keys} key(s)`,
                `outbox holds only files of batches to be paid: ${r.outboxFiles} file(s)`,
              ]
            : [`${violations.length} violation(s):`, ...violations.map((x) => `  ${x}`)]
          if (repaired)
            lines.unshift(`counters rebuilt from a full count: ${repaired} mismatch(es) repaired`)
          return lines.join('\n')
        })
        if (!r.ok) {
          const { DshError } = await import('../src/core/errors.js')
          throw new DshError('findings', 'settlement_invariant', r.violations[0] ?? 'violation', {
            hint: 'see `dsh doctor --json` for every violation; do not settle again until it is explained',
          })
        }
        if (!counters.ok) {
          const { DshError } = await import('../src/core/errors.js')
          throw new DshError('findings', 'counter_mismatch', counters.mismatches[0] ?? 'mismatch', {
            hint: 'something wrote payments around the store’s counters; `dsh doctor --repair-counters` rebuilds them from a full count',
          })
        }
      }),
    )
}
