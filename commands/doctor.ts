import { Command } from 'commander'
import type { CommandContext } from './context.js'

export function doctorCommand(ctx: CommandContext): Command {
  return new Command('doctor')
    .description(
      'Check the store’s schema objects, settlement invariants, its counters and the outbox: exit 0 when they hold, 8 naming the first violation',
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
        const { checkStoreObjects } = await import('../src/backup/schema-check.js')
        // First: a trigger or view planted beside the migrations' objects acts on every write.
        // When it cannot run (a PostgreSQL role without CREATEDB for the scratch database), the
        // other checks still do, and doctor never ends 0 with this one skipped.
        const { isDshError } = await import('../src/core/errors.js')
        let unchecked: Error | undefined
        const schema = await checkStoreObjects(app, app.dbSpec).catch((e: unknown) => {
          if (!isDshError(e) || e.kind !== 'config') throw e
          unchecked = e
          app.out.warn(`schema objects not checked: ${e.message}`)
          return { ok: true, objects: 0, findings: [] as string[] }
        })
        const r = await doctor(app)
        let counters = await checkCounters(app)
        let repaired = 0
        if (opts.repairCounters && !counters.ok) {
          repaired = counters.mismatches.length
          await repairCounters(app, repaired)
          counters = await checkCounters(app)
        }
        const { feesWithoutRate } = await import('../src/payments/fees.js')
        const feeWithoutRate = await feesWithoutRate(app)
        const violations = [
          ...schema.findings,
          ...r.violations,
          ...counters.mismatches,
          ...feeWithoutRate.map((f) => f.message),
        ]
        const found = !schema.ok || !r.ok || !counters.ok || feeWithoutRate.length > 0
        const ok = !found && unchecked === undefined
        app.rt.verdict?.(found ? 'findings' : unchecked ? 'config' : 'ok')
        const result = {
          ...r,
          ok,
          violations,
          schema: { ...schema, checked: unchecked === undefined },
          counters: { ...counters, ...(opts.repairCounters ? { repaired } : {}) },
          feeWithoutRate,
        }
        app.out.result(result, () => {
          const lines = !found
            ? [
                unchecked
                  ? 'schema objects: NOT checked (see the warning)'
                  : `schema objects as dsh's migrations make them: ${schema.objects}`,
                `settlement invariants hold: ${r.batches} batch(es), ${r.items} member row(s)`,
                `counters match a full count: ${counters.keys} key(s)`,
                `outbox holds only files of batches to be paid: ${r.outboxFiles} file(s)`,
                'fees: no payment waits for a rate to convert its flat fee',
              ]
            : [`${violations.length} violation(s):`, ...violations.map((x) => `  ${x}`)]
          if (repaired)
            lines.unshift(`counters rebuilt from a full count: ${repaired} mismatch(es) repaired`)
          return lines.join('\n')
        })
        if (!schema.ok) {
          const { DshError } = await import('../src/core/errors.js')
          throw new DshError('findings', 'schema_objects', schema.findings[0] ?? 'schema', {
            hint: 'an object dsh did not create acts on the store: remove it and find out who planted it, or restore a verified backup',
          })
        }
        if (!r.ok) {
          const { DshError } = await import('../src/core/errors.js')
          throw new DshError('findings', 'settlement_invariant', r.violations[0] ?? 'violation', {
            hint: 'see `dsh doctor --json` for every violation; do not settle again until it is explained',
          })
        }
        const firstFee = feeWithoutRate[0]
        if (firstFee) {
          const { DshError } = await import('../src/core/errors.js')
          throw new DshError('findings', 'fee_without_rate', firstFee.message, {
            hint: `${feeWithoutRate.length} payment(s) wait for a rate; see \`dsh doctor --json\` (feeWithoutRate)`,
          })
        }
        if (!counters.ok) {
          const { DshError } = await import('../src/core/errors.js')
          throw new DshError('findings', 'counter_mismatch', counters.mismatches[0] ?? 'mismatch', {
            hint: 'something wrote payments around the store’s counters; `dsh doctor --repair-counters` rebuilds them from a full count',
          })
        }
        if (unchecked) throw unchecked
      }),
    )
}
