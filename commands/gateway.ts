import { Command, Option } from 'commander'
import type { App } from '../src/app.js'
import { ALL_FIELDS, GATEWAY_FIELDS } from '../src/core/gateways/fields.js'
import { formatLocal } from '../src/core/time.js'
import type { GatewayView } from '../src/gateway-config/view.js'
import type { CommandContext } from './context.js'
import { collectFieldValues } from './secret-input.js'

type Opts = Record<string, unknown> & { branch?: string; tenant?: string; yes?: boolean }

const scopeFlags = (cmd: Command) =>
  cmd
    .option('--branch <code>', 'a branch’s own configuration')
    .option('--tenant <slug>', 'a tenant’s default for its branches')

const TYPES = 'mpesa | mpesa-kcb | stripe | square | cash'

/** The human label of a stored field (`accountType` → `Account type`); JSON keeps the keys. */
function fieldLabel(type: string, key: string): string {
  const spec = (GATEWAY_FIELDS as Record<string, readonly { name: string; label: string }[]>)[type]
  return spec?.find((f) => f.name === key)?.label ?? key
}

export function renderGateway(app: App, g: GatewayView, zone: string): string {
  return app.out.fields([
    ['Type', g.type],
    ['Applies to', g.branch ? `branch ${g.branch}` : `tenant ${g.tenant} (default)`],
    ['Comes from', g.source === 'tenant' && g.branch ? `tenant ${g.tenant} (inherited)` : g.source],
    ['Enabled', g.enabled ? 'yes' : 'no'],
    ...Object.entries(g.settings).map(([k, v]) => [fieldLabel(g.type, k), v] as [string, string]),
    ...Object.entries(g.secrets).map(([k, v]) => [fieldLabel(g.type, k), v] as [string, string]),
    [
      'Transaction fee',
      `${g.fees['transactionFeeRate']}% + ${g.fees['currency']} ${g.fees['transactionFeeFlat']}`,
    ],
    ['Conversion fee', `${g.fees['conversionFeeRate']}%`],
    ['Settlement fee', `${g.fees['currency']} ${g.fees['settlementFee']}`],
    ['Updated', formatLocal(g.updatedAt, zone)],
  ])
}

/** Seconds `gateway setup` waits for its closing `gateway test` on a terminal. */
const SETUP_TEST_SECONDS = 5

/**
 * After a set-up on a terminal: `gateway test`, capped at a few seconds, reported as a warning
 * (or a note when it passes). It never changes the exit code: the configuration is saved.
 */
async function testAfterSetup(app: App, type: string, branch: string): Promise<void> {
  const { gatewayTest } = await import('../src/gateway-config/health.js')
  app.progress.set(`gateway test: checking the ${type} credentials of ${branch}`)
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), SETUP_TEST_SECONDS * 1000)
  })
  try {
    const r = await Promise.race([gatewayTest(app, type, branch), timeout])
    if (r === 'timeout')
      app.out.warn(
        `gateway test gave no answer within ${SETUP_TEST_SECONDS} s; try \`dsh gateway test ${type} --branch ${branch}\``,
      )
    else app.out.info(`gateway test: ${r.gateway} credentials of ${r.branch} ok (${r.message})`)
  } catch (e) {
    app.out.warn(
      `saved, but gateway test failed: ${(e as Error).message}; check it with \`dsh gateway test ${type} --branch ${branch}\``,
    )
  } finally {
    clearTimeout(timer)
    app.progress.done()
  }
}

export function gatewayCommand(ctx: CommandContext): Command {
  const gateway = new Command('gateway').description(
    'Payment gateway configurations per branch, with tenant defaults',
  )

  const setup = scopeFlags(
    gateway
      .command('setup')
      .description(
        'Create or update a gateway configuration (missing fields are asked on a terminal)',
      )
      .argument('<type>', TYPES),
  )
  for (const f of ALL_FIELDS) {
    setup.addOption(
      new Option(`--${f.flag} <value>`, f.label + (f.choices ? ` (${f.choices.join('|')})` : '')),
    )
    if (f.kind === 'secret')
      setup.addOption(
        new Option(`--${f.flag}-file <path>`, `read ${f.label} from a file (- for standard input)`),
      )
  }
  setup
    .option(
      '--transaction-fee-rate <percent>',
      'per-payment fee rate in percent, e.g. 1.5 (default 0)',
    )
    .option('--transaction-fee-flat <amount>', 'per-payment flat fee in the currency (default 0)')
    .option(
      '--conversion-fee-rate <percent>',
      'fee rate on currency conversion in percent (default 0)',
    )
    .option('--settlement-fee <amount>', 'fee per settlement batch (default 0)')
    .option(
      '--custom-base-url',
      'accept a production --base-url outside the gateway’s known hosts (its secrets are sent there)',
    )
    .option(
      '--no-test',
      'do not run `gateway test` afterwards (it runs on a terminal; never with --no-input)',
    )
    .addHelpText(
      'after',
      `
Examples:
  dsh gateway setup mpesa --tenant acme --environment sandbox --account-type paybill \\
      --shortcode 174379 --paybill-number 174379 --passkey-file passkey.txt \\
      --consumer-key-file ck.txt --consumer-secret-file cs.txt
  dsh gateway setup stripe --branch westlands --secret-key-file sk.txt --webhook-secret-file whsec.txt \\
      --transaction-fee-rate 2.9 --transaction-fee-flat 30`,
    )
    .action(
      ctx.action(async (app, type: string, opts: Opts) => {
        const { setupGateway } = await import('../src/gateway-config/setup.js')
        const values = collectFieldValues(app, ALL_FIELDS, opts)
        const fees = {
          transactionFeeRate: opts['transactionFeeRate'] as string | undefined,
          transactionFeeFlat: opts['transactionFeeFlat'] as string | undefined,
          conversionFeeRate: opts['conversionFeeRate'] as string | undefined,
          settlementFee: opts['settlementFee'] as string | undefined,
        }
        const r = await setupGateway(app, {
          type,
          branch: opts.branch,
          tenant: opts.tenant,
          values,
          fees,
          customBaseUrl: opts['customBaseUrl'] === true,
        })
        const { displayZone } = await import('../src/tenants/tenants.js')
        const zone = app.out.json ? 'UTC' : await displayZone(app, r.view)
        app.out.result(
          r.view,
          () =>
            `${r.created ? 'configured' : 'updated'} ${type}\n${renderGateway(app, r.view, zone)}`,
        )
        if (app.prompter.interactive && opts['test'] !== false && r.view.branch && type !== 'cash')
          await testAfterSetup(app, type, r.view.branch)
      }),
    )

  scopeFlags(
    gateway
      .command('list')
      .description('Show which configuration applies to each branch and where it comes from'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  dsh gateway list\n  dsh gateway list --branch westlands --json',
    )
    .action(
      ctx.action(async (app, opts: Opts) => {
        const { gatewayList } = await import('../src/gateway-config/manage.js')
        const rows = await gatewayList(app, opts)
        app.out.result(rows, () =>
          rows.length === 0
            ? 'no gateway configurations; add one with `dsh gateway setup <type> --branch <code>`'
            : app.out.table(
                [
                  { header: 'Tenant', priority: 40 },
                  { header: 'Branch', priority: 100 },
                  'Type',
                  'Source',
                  'Enabled',
                  'Environment',
                ],
                rows.map((r) => [
                  r.tenant,
                  r.branch ?? '(tenant default)',
                  r.type,
                  r.source === 'tenant' && r.branch ? 'tenant (inherited)' : r.source,
                  r.enabled ? 'yes' : 'no',
                  r.environment ?? '',
                ]),
              ),
        )
      }),
    )

  scopeFlags(
    gateway
      .command('show')
      .description('Show a configuration (secrets masked)')
      .argument('<type>', TYPES),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  dsh gateway show mpesa --branch westlands\n  dsh gateway show stripe --tenant acme --json',
    )
    .action(
      ctx.action(async (app, type: string, opts: Opts) => {
        const { gatewayShow } = await import('../src/gateway-config/manage.js')
        const g = await gatewayShow(app, type, opts)
        const { displayZone } = await import('../src/tenants/tenants.js')
        const zone = app.out.json ? 'UTC' : await displayZone(app, g)
        app.out.result(g, () => renderGateway(app, g, zone))
      }),
    )

  for (const change of ['enable', 'disable', 'remove'] as const) {
    const cmd = scopeFlags(
      gateway
        .command(change)
        .description(
          `${change[0]?.toUpperCase()}${change.slice(1)} a configuration of the branch or tenant itself`,
        )
        .argument('<type>', TYPES),
    )
    cmd
      .addHelpText(
        'after',
        `\nExamples:\n  dsh gateway ${change} mpesa --branch westlands${change === 'remove' ? ' --yes' : ''}`,
      )
      .action(
        ctx.action(async (app, type: string, opts: Opts) => {
          const { changeGateway } = await import('../src/gateway-config/manage.js')
          const r = await changeGateway(
            app,
            type,
            { ...opts, yes: app.globals.yes === true },
            change,
          )
          app.out.result(r, () =>
            'removed' in r
              ? `removed ${type} configuration ${r.removed}`
              : `${type} is ${r.enabled ? 'enabled' : 'disabled'} for ${r.branch ? `branch ${r.branch}` : `tenant ${r.tenant}`}`,
          )
        }),
      )
  }

  gateway
    .command('status')
    .description('Circuit breaker state of every branch × gateway')
    .option('--branch <code>', 'only this branch')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh gateway status\n  dsh gateway status --branch westlands --json',
    )
    .action(
      ctx.action(async (app, opts: { branch?: string }) => {
        const { gatewayStatus } = await import('../src/gateway-config/health.js')
        const rows = await gatewayStatus(app, opts.branch)
        const { displayZone } = await import('../src/tenants/tenants.js')
        const zone = app.out.json ? 'UTC' : await displayZone(app, { branch: opts.branch })
        app.out.result(rows, () =>
          rows.length === 0
            ? 'no remote gateways configured'
            : app.out.table(
                ['Branch', 'Gateway', 'Enabled', 'Breaker', 'Faults', 'Next probe'],
                rows.map((r) => [
                  r.branch,
                  r.gateway,
                  r.enabled ? 'yes' : 'no',
                  r.breaker,
                  r.consecutiveFaults,
                  formatLocal(r.retryAt, zone),
                ]),
              ),
        )
      }),
    )

  gateway
    .command('test')
    .description(
      'Check a branch’s credentials against the configured endpoint (7 rejected, 6 unreachable)',
    )
    .argument('<type>', TYPES)
    .requiredOption('--branch <code>', 'the branch')
    .addHelpText('after', '\nExamples:\n  dsh gateway test mpesa --branch westlands')
    .action(
      ctx.action(async (app, type: string, opts: { branch: string }) => {
        const { gatewayTest } = await import('../src/gateway-config/health.js')
        app.progress.set(`checking the ${type} credentials of ${opts.branch}`)
        const r = await gatewayTest(app, type, opts.branch)
        app.out.result(r, () =>
          r.nothingToTest
            ? `${r.gateway} of ${r.branch}: ${r.message}`
            : `${r.gateway} credentials of ${r.branch}: ok (${r.message})`,
        )
      }),
    )

  gateway
    .command('callback-url')
    .description(
      'Print the URL to register with the gateway for a branch’s callbacks (it holds a secret)',
    )
    .argument('<type>', 'mpesa | mpesa-kcb | stripe | square | bank')
    .requiredOption('--branch <code>', 'the branch')
    .option(
      '--rotate',
      'make a new secret path token (mpesa, mpesa-kcb, bank): the old URL stops working',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  dsh gateway callback-url mpesa --branch westlands\n  dsh gateway callback-url mpesa --branch westlands --rotate --json',
    )
    .action(
      ctx.action(async (app, type: string, opts: { branch: string; rotate?: boolean }) => {
        const { callbackUrlFor } = await import('../src/callbacks/callback-url.js')
        const r = await callbackUrlFor(app, type, opts.branch, opts.rotate === true)
        app.out.result(r, () =>
          r.rotated ? `${r.url}\n(new token: register this URL with ${type} now)` : r.url,
        )
      }),
    )

  gateway
    .command('migrate')
    .description('Copy tenant-level configurations down to every branch without its own')
    .requiredOption('--tenant <slug>', 'the tenant whose defaults to copy')
    .option('--dry-run', 'show what would be copied, change nothing')
    .option('--remove-tenant', 'then remove the tenant-level copies (a move)')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh gateway migrate --tenant acme --dry-run\n  dsh gateway migrate --tenant acme --remove-tenant',
    )
    .action(
      ctx.action(
        async (app, opts: { tenant: string; dryRun?: boolean; removeTenant?: boolean }) => {
          const { migrateTenantGateways } = await import('../src/gateway-config/migrate.js')
          const r = await migrateTenantGateways(app, opts)
          app.out.result(r, () => {
            if (r.copied.length === 0 && r.removedTenantConfigs.length === 0)
              return 'nothing to migrate: every branch has its own configurations'
            const lines = r.copied.map(
              (c) => `${r.dryRun ? 'would copy' : 'copied'} ${c.type} to ${c.branch}`,
            )
            if (r.removedTenantConfigs.length)
              lines.push(
                `${r.dryRun ? 'would remove' : 'removed'} ${r.removedTenantConfigs.length} tenant-level configuration(s)`,
              )
            if (r.backup) lines.push(`backup: ${r.backup}`)
            return lines.join('\n')
          })
        },
      ),
    )
  return gateway
}
