import { Command } from 'commander'
import type { App } from '../src/app.js'
import { usageError } from '../src/core/errors.js'
import { formatMoney } from '../src/core/money/format.js'
import { formatLocal } from '../src/core/time.js'
import type { SettlementAccountView } from '../src/settlement/accounts.js'
import type { BranchView } from '../src/tenants/branches.js'
import type { CommandContext } from './context.js'
import { nameCheck, withFlags } from './field-input.js'

interface SettingsOptions {
  name?: string
  timezone?: string
  taxRate?: string
  serviceCharge?: string
  tips?: boolean
  methods?: string
  maxAmount?: string
}

interface AddOptions extends SettingsOptions {
  tenant?: string
  currency?: string
}

/** `--tips --no-tips` is a contradiction, not "the last one wins": a usage error (exit 2). */
function refuseContradiction(cmd: Command): void {
  let root: Command = cmd
  while (root.parent) root = root.parent
  // commander keeps the argv it parsed on the root command (untyped).
  const args = (root as unknown as { rawArgs?: string[] }).rawArgs ?? []
  const end = args.indexOf('--')
  const given = end < 0 ? args : args.slice(0, end)
  if (given.includes('--tips') && given.includes('--no-tips'))
    throw usageError('conflicting_flags', 'give --tips or --no-tips, not both')
}

const settingsFlags = (cmd: Command) =>
  cmd
    .hook('preAction', (_self, action) => refuseContradiction(action))
    .option('--name <name>', 'display name')
    .option('--timezone <zone>', 'IANA time zone (default the tenant’s)')
    .option('--tax-rate <percent>', 'tax rate in percent, 0-100, at most 2 decimals (default 0)')
    .option('--service-charge <percent>', 'service charge in percent (default 0)')
    .option('--tips', 'accept tips')
    .option('--no-tips', 'do not accept tips')
    .option('--methods <list>', 'accepted methods: mpesa,card,cash (default all)')
    .option(
      '--max-amount <amount>',
      'the largest single payment in the branch currency (default 10,000,000)',
    )

function showBranch(app: App, b: BranchView): string {
  return app.out.fields([
    ['Code', b.code],
    ['Name', b.name],
    ['Tenant', b.tenant],
    ['Currency', b.currency],
    ['Time zone', b.timezone],
    ['Tax rate', `${b.taxRate}%`],
    ['Service charge', `${b.serviceChargeRate}%`],
    ['Tips', b.tips ? 'yes' : 'no'],
    ['Methods', b.methods.join(', ')],
    ['Largest payment', formatMoney({ minor: b.maxAmountMinor, currency: b.currency })],
    ['Status', b.status],
    ['Created', formatLocal(b.createdAt, b.timezone)],
    ['Updated', formatLocal(b.updatedAt, b.timezone)],
  ])
}

export function branchCommand(ctx: CommandContext): Command {
  const branch = new Command('branch').description(
    'Restaurant branches: currency, time zone, rates, methods',
  )

  settingsFlags(
    branch
      .command('add')
      .description('Add a branch to a tenant')
      .argument('<code>', 'lower-case code, unique in the store, e.g. westlands')
      .option('--tenant <slug>', 'the tenant that owns the branch')
      .option('--currency <ccy>', 'the branch currency, e.g. KES'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  dsh branch add westlands --tenant acme --name Westlands --currency KES\n  dsh branch add kampala --tenant acme --name Kampala --currency UGX --timezone Africa/Kampala --tax-rate 18 --tips',
    )
    .action(
      ctx.action(async (app, code: string, opts: AddOptions) => {
        const filled = await app.prompter.fill({ ...opts }, [
          { key: 'tenant', flag: '--tenant', message: 'Tenant slug' },
          { key: 'name', flag: '--name', message: 'Branch name', validate: await nameCheck() },
          {
            key: 'currency',
            flag: '--currency',
            message: 'Currency',
            choices: ['KES', 'UGX', 'TZS', 'RWF', 'BIF', 'CDF', 'SSP', 'USD'],
          },
        ])
        const { addBranch } = await import('../src/tenants/branches.js')
        const b = await withFlags(
          addBranch(app, {
            ...opts,
            code,
            tenant: filled['tenant'] ?? '',
            name: filled['name'] ?? '',
            currency: filled['currency'] ?? '',
          }),
        )
        app.out.result(
          b,
          () => `added branch ${b.code} (${b.name}, ${b.currency}, ${b.timezone}) to ${b.tenant}`,
        )
      }),
    )

  branch
    .command('list')
    .description('List branches')
    .option('--tenant <slug>', 'only this tenant’s branches')
    .addHelpText('after', '\nExamples:\n  dsh branch list\n  dsh branch list --tenant acme --json')
    .action(
      ctx.action(async (app, opts: { tenant?: string }) => {
        const { branchList } = await import('../src/tenants/branches.js')
        const rows = await branchList(app, opts)
        app.out.result(rows, () =>
          rows.length === 0
            ? 'no branches yet; add one with `dsh branch add <code> --tenant <slug> --name <name> --currency <ccy>`'
            : app.out.table(
                [
                  'Code',
                  'Name',
                  'Tenant',
                  { header: 'Currency', priority: 70 },
                  { header: 'Time zone', priority: 45 },
                  { header: 'Tax', priority: 35, align: 'right' },
                  { header: 'Service', priority: 30, align: 'right' },
                  { header: 'Tips', priority: 20 },
                  { header: 'Methods', priority: 25 },
                  'Status',
                ],
                rows.map((b) => [
                  b.code,
                  b.name,
                  b.tenant,
                  b.currency,
                  b.timezone,
                  `${b.taxRate}%`,
                  `${b.serviceChargeRate}%`,
                  b.tips ? 'yes' : 'no',
                  b.methods.join(','),
                  b.status,
                ]),
              ),
        )
      }),
    )

  branch
    .command('show')
    .description('Show one branch')
    .argument('<code>')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh branch show westlands\n  dsh branch show westlands --json',
    )
    .action(
      ctx.action(async (app, code: string) => {
        const { branchShow } = await import('../src/tenants/branches.js')
        const b = await branchShow(app, code)
        app.out.result(b, () => showBranch(app, b))
      }),
    )

  settingsFlags(branch.command('set').description('Change a branch’s settings').argument('<code>'))
    .addHelpText(
      'after',
      '\nExamples:\n  dsh branch set westlands --tax-rate 16 --service-charge 5\n  dsh branch set westlands --no-tips --methods mpesa,cash',
    )
    .action(
      ctx.action(async (app, code: string, opts: SettingsOptions) => {
        const { setBranch } = await import('../src/tenants/branches.js')
        const b = await withFlags(setBranch(app, code, opts))
        app.out.result(b, () => `updated branch ${b.code}\n${showBranch(app, b)}`)
      }),
    )

  for (const [name, status, text] of [
    ['disable', 'disabled', 'Disable a branch: it refuses new payments'],
    ['enable', 'active', 'Enable a disabled branch'],
  ] as const) {
    branch
      .command(name)
      .description(text)
      .argument('<code>')
      .addHelpText('after', `\nExamples:\n  dsh branch ${name} westlands`)
      .action(
        ctx.action(async (app, code: string) => {
          const { setBranchStatus } = await import('../src/tenants/branches.js')
          const b = await setBranchStatus(app, code, status)
          app.out.result(b, () => `branch ${b.code} is ${b.status}`)
        }),
      )
  }
  branch
    .command('settlement-account')
    .description(
      'Show or set the bank account and schedule a branch is settled to (one per currency)',
    )
    .argument('<code>')
    .option(
      '--currency <ccy>',
      'which of the branch’s settlement accounts (default the branch currency)',
    )
    .option('--account-name <name>', 'account holder name')
    .option('--account-number <number>', 'bank account number')
    .option('--bank-name <name>', 'bank name')
    .option('--bank-code <code>', 'bank (and branch) code')
    .option('--swift <bic>', 'SWIFT/BIC code, e.g. KCBLKENX')
    .option('--schedule <kind>', 'daily | weekly | monthly (default daily)')
    .option('--at <HH:MM>', 'time of day in the branch time zone (default 02:00)')
    .option('--weekday <day>', 'mon..sun, for weekly')
    .option('--day <n>', '1-28 or last, for monthly')
    .option('--min-amount <amount>', 'below this the run carries over (default 0)')
    .option('--holding-hours <n>', 'settle payments older than this (default 24)')
    .option('--auto', 'run on the schedule in the daemon')
    .option('--no-auto', 'only run by hand')
    .option('--transfer <adapter>', 'file | http | manual: how the money goes out (default file)')
    .option('--bank-api-url <url>', 'the bank transfer API, for --transfer http')
    .option('--bank-api-key-file <path>', 'file holding the bank API key (- = standard input)')
    .option(
      '--bank-webhook-secret-file <path>',
      'file holding the secret the bank signs confirmations with (- = standard input)',
    )
    .addHelpText(
      'after',
      `
Examples:
  dsh branch settlement-account westlands --account-name "Acme Ltd" --account-number 1234567890 \
      --bank-name KCB --swift KCBLKENX --schedule daily --at 02:00 --min-amount 1000 --holding-hours 24 --auto
  dsh branch settlement-account westlands --schedule weekly --weekday fri --at 18:00
  dsh branch settlement-account westlands --transfer http --bank-code 01 \
      --bank-api-url https://bank.example/api --bank-api-key-file key.txt --bank-webhook-secret-file whsec.txt
  dsh branch settlement-account westlands --json`,
    )
    .action(
      ctx.action(async (app, code: string, opts: Record<string, string | boolean | undefined>) => {
        const svc = await import('../src/settlement/accounts.js')
        const { collectFieldValues } = await import('./secret-input.js')
        const secrets = collectFieldValues(
          app,
          [
            { name: 'bankApiKey', flag: 'bank-api-key', kind: 'secret', label: 'bank API key' },
            {
              name: 'bankWebhookSecret',
              flag: 'bank-webhook-secret',
              kind: 'secret',
              label: 'bank webhook secret',
            },
          ],
          opts,
        )
        const { bankApiKeyFile: _k, bankWebhookSecretFile: _w, ...rest } = opts
        const input = { ...rest, ...secrets } as Parameters<typeof svc.setSettlementAccount>[2]
        if (!svc.isChange(input)) {
          const rows = await svc.showSettlementAccounts(app, code)
          app.out.result(rows, () =>
            rows.length === 0
              ? `branch ${code} has no settlement account yet; set one with --account-name, --account-number and --bank-name`
              : rows.map((a) => renderAccount(app, a)).join('\n\n'),
          )
          return
        }
        const r = await withFlags(svc.setSettlementAccount(app, code, input))
        app.out.result(
          r.account,
          () =>
            `${r.created ? 'added' : 'updated'} settlement account\n${renderAccount(app, r.account)}`,
        )
      }),
    )
  return branch
}

function renderAccount(app: App, a: SettlementAccountView): string {
  const s = a.schedule
  const when =
    s.kind === 'weekly'
      ? `weekly on ${s.weekday} at ${s.at}`
      : s.kind === 'monthly'
        ? `monthly on day ${s.day} at ${s.at}`
        : `daily at ${s.at}`
  return app.out.fields([
    ['Branch', a.branch],
    ['Currency', a.currency],
    ['Account', `${a.accountName}, ${a.accountNumber}`],
    ['Bank', [a.bankName, a.bankCode, a.swift].filter(Boolean).join(', ')],
    ['Schedule', `${when}${a.auto ? ' (automatic)' : ' (by hand)'}`],
    ['Minimum', formatMoney({ minor: BigInt(a.minAmountMinor), currency: a.currency })],
    ['Holding period', `${a.holdingHours} h`],
    ['Transfer', a.transfer],
    ...(a.transfer === 'http'
      ? ([
          ['Bank API', a.bankApiUrl ?? ''],
          ['Bank API key', a.bankApiKey ?? '(none)'],
          ['Webhook secret', a.bankWebhookSecret ?? '(none)'],
        ] as [string, string][])
      : []),
  ])
}
