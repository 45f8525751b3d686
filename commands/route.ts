import { Command } from 'commander'
import type { App } from '../src/app.js'
import type { RouteDecision, RoutingRules } from '../src/core/payments/routing.js'
import type { CommandContext } from './context.js'

function renderRules(app: App, branch: string, source: string, rules: RoutingRules): string {
  const cond = (w: Record<string, unknown>) =>
    Object.entries(w)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ') || '(always)'
  return [
    `routing rules of ${branch} (${source === 'default' ? 'the defaults' : 'its own'}); first match wins:`,
    app.out.table(
      ['#', 'Name', 'When', 'Gateways'],
      rules.rules.map((r, i) => [
        i + 1,
        r.name ?? '',
        cond(r.when as Record<string, unknown>),
        r.gateways.join(' → '),
      ]),
    ),
    `fallback: ${rules.fallback.join(' → ') || '(none)'}`,
  ].join('\n')
}

export function renderDecision(app: App, d: RouteDecision): string {
  return [
    `rule: ${d.rule} (${d.reason})`,
    app.out.table(
      ['Gateway', 'Eligible', 'Why'],
      d.candidates.map((c) => [c.gateway, c.eligible ? 'yes' : 'no', c.reason]),
    ),
    d.order.length ? `order: ${d.order.join(' → ')}` : 'no gateway can take this payment',
  ].join('\n')
}

export function routeCommand(ctx: CommandContext): Command {
  const route = new Command('route').description('Payment routing rules per branch')
  route
    .command('show')
    .description('Print the rules in force for a branch')
    .requiredOption('--branch <code>', 'the branch')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh route show --branch westlands\n  dsh route show --branch westlands --json',
    )
    .action(
      ctx.action(async (app, opts: { branch: string }) => {
        const { showRules } = await import('../src/routing/rules.js')
        const r = await showRules(app, opts.branch)
        app.out.result(r, () => renderRules(app, r.branch, r.source, r.rules))
      }),
    )
  route
    .command('set')
    .description('Replace a branch’s rules with a validated JSON file, or --reset to the defaults')
    .requiredOption('--branch <code>', 'the branch')
    .option('--file <path>', 'rules JSON (- for standard input)')
    .option('--reset', 'go back to the default rules')
    .addHelpText(
      'after',
      `
Rules file:
  {"rules":[{"when":{"currency":"KES","minAmount":"10000","customerType":"enterprise","method":"mpesa"},
             "gateways":["mpesa-kcb","mpesa"]}],
   "fallback":["mpesa"]}
  Conditions (all optional): currency, minAmount, maxAmount (major units, as strings), customerType
  (regular|enterprise), method (mpesa|card|cash), crossBorder (true|false). First match wins.

Examples:
  dsh route set --branch westlands --file rules.json
  dsh route set --branch westlands --reset`,
    )
    .action(
      ctx.action(async (app, opts: { branch: string; file?: string; reset?: boolean }) => {
        const { usageError, validationError } = await import('../src/core/errors.js')
        if (!opts.file === !opts.reset)
          throw usageError('rules_source', 'give --file <path> or --reset')
        let doc: unknown = null
        if (opts.file) {
          const { readLimited } = await import('../src/cli/read-limited.js')
          let text: string
          try {
            text = readLimited(opts.file === '-' ? 0 : opts.file)
          } catch (e) {
            throw validationError(
              'rules_unreadable',
              `cannot read ${opts.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
            )
          }
          try {
            doc = JSON.parse(text)
          } catch (e) {
            throw validationError(
              'rules_not_json',
              `${opts.file} is not valid JSON: ${(e as Error).message}`,
            )
          }
        }
        const { setRules } = await import('../src/routing/rules.js')
        const r = await setRules(app, opts.branch, doc)
        app.out.result(r, () => renderRules(app, r.branch, r.source, r.rules))
      }),
    )
  route
    .command('explain')
    .description('Show which gateways a payment would go to, and why, without paying')
    .requiredOption('--branch <code>', 'the branch')
    .requiredOption('--amount <amount>', 'amount in major units')
    .requiredOption('--currency <ccy>', 'currency')
    .option('--method <method>', 'mpesa | card | cash', 'mpesa')
    .option('--customer-type <type>', 'regular | enterprise', 'regular')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh route explain --branch westlands --amount 15000 --currency KES\n  dsh route explain --branch westlands --amount 500 --currency KES --customer-type enterprise --json',
    )
    .action(
      ctx.action(
        async (
          app,
          opts: {
            branch: string
            amount: string
            currency: string
            method: string
            customerType: string
          },
        ) => {
          const { explainRoute } = await import('../src/routing/explain.js')
          const d = await explainRoute(app, opts)
          app.out.result(d, () => renderDecision(app, d))
        },
      ),
    )
  return route
}
