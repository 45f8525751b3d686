import { Command } from 'commander'
import type { CommandContext } from './context.js'

export function healthCommand(ctx: CommandContext): Command {
  return new Command('health')
    .description(
      'Check success rates, gateways, backlogs, backups and compliance; exit 8 on alerts',
    )
    .option('--branch <code>', 'only this branch’s checks and alerts (and the store-wide ones)')
    .addHelpText(
      'after',
      `
Checks: each branch's success rate and processing time today (in its time zone), its gateways'
circuit breakers, payments at or above the KYC threshold, bursts of payments from one phone; the
recovery backlog, the callback inbox depth and the age of the newest backup. Thresholds:
\`dsh config get\` lists them (alert-success-rate, alert-kyc-amount, …); set with
\`dsh config set alert-<name> <value>\`. An alert stays open (with its "since") until its
condition is gone; the daemon evaluates the same checks every minute.

Exit codes: 0 no alert, 8 alerts open (the report on stdout, the error on stderr).

Examples:
  dsh health
  dsh health --branch westlands --json`,
    )
    .action(
      ctx.action(async (app, opts: { branch?: string }) => {
        const { evaluateHealth } = await import('../src/reports/health.js')
        const { opened: _o, closed: _c, ...r } = await evaluateHealth(app, { branch: opts.branch })
        app.out.result(r, () =>
          [
            r.alerts.length === 0
              ? 'health: ok, no alerts'
              : `health: ${r.alerts.length} alert(s)\n${app.out.table(
                  ['Severity', 'Code', 'Branch', 'Since', 'Message'],
                  r.alerts.map((a) => [a.severity, a.code, a.branch ?? '', a.since, a.message]),
                )}`,
            app.out.table(
              ['Check', 'Branch', 'OK', 'Value', 'Threshold'],
              r.checks.map((c) => [
                c.name,
                c.branch ?? '',
                c.ok ? 'ok' : 'ALERT',
                c.value === null ? '–' : String(c.value),
                c.threshold === null ? '' : String(c.threshold),
              ]),
            ),
          ].join('\n'),
        )
        if (r.alerts.length > 0) {
          const { DshError } = await import('../src/core/errors.js')
          throw new DshError(
            'findings',
            'alerts_open',
            `${r.alerts.length} alert(s) open: ${r.alerts.map((a) => a.code).join(', ')}`,
            { hint: 'see the alerts above; they close by themselves once their condition is gone' },
          )
        }
      }),
    )
}
