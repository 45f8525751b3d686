import { Command } from 'commander'
import { formatLocal } from '../src/core/time.js'
import type { CommandContext } from './context.js'
import { nameCheck, withFlags } from './field-input.js'

interface AddOptions {
  name?: string
  currency?: string
  timezone?: string
}

export function tenantCommand(ctx: CommandContext): Command {
  const tenant = new Command('tenant').description('Businesses that own branches')

  tenant
    .command('add')
    .description('Add a tenant (a business)')
    .argument('<slug>', 'lower-case id, e.g. acme')
    .option('--name <name>', 'display name')
    .option('--currency <ccy>', 'default currency', 'KES')
    .option(
      '--timezone <zone>',
      'IANA time zone for times shown over several branches, and new branches’ default',
      'Africa/Nairobi',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  dsh tenant add acme --name "Acme Restaurants"\n  dsh tenant add nile --name "Nile Foods" --currency UGX --timezone Africa/Kampala --json',
    )
    .action(
      ctx.action(async (app, slug: string, opts: AddOptions) => {
        const filled = await app.prompter.fill({ ...opts }, [
          { key: 'name', flag: '--name', message: 'Tenant name', validate: await nameCheck() },
        ])
        const { addTenant } = await import('../src/tenants/tenants.js')
        const t = await withFlags(
          addTenant(app, {
            slug,
            name: filled['name'] ?? '',
            currency: opts.currency,
            timezone: opts.timezone,
          }),
        )
        app.out.result(t, () => `added tenant ${t.slug} (${t.name}, ${t.currency}, ${t.timezone})`)
      }),
    )

  tenant
    .command('set')
    .description('Change a tenant’s name or time zone')
    .argument('<slug>')
    .option('--name <name>', 'display name')
    .option('--timezone <zone>', 'IANA time zone, e.g. Africa/Kampala')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh tenant set acme --timezone Africa/Kampala\n  dsh tenant set acme --name "Acme Group" --json',
    )
    .action(
      ctx.action(async (app, slug: string, opts: { name?: string; timezone?: string }) => {
        const { setTenant } = await import('../src/tenants/tenants.js')
        const { asFlags } = await import('../src/cli/field-flags.js')
        const t = await setTenant(app, { slug, ...opts }).catch((e) => {
          throw asFlags(e)
        })
        app.out.result(
          t,
          () => `updated tenant ${t.slug} (${t.name}, ${t.currency}, ${t.timezone})`,
        )
      }),
    )

  tenant
    .command('list')
    .description('List tenants')
    .addHelpText('after', '\nExamples:\n  dsh tenant list\n  dsh tenant list --json')
    .action(
      ctx.action(async (app) => {
        const { tenantList } = await import('../src/tenants/tenants.js')
        const rows = await tenantList(app)
        app.out.result(rows, () =>
          rows.length === 0
            ? 'no tenants yet; add one with `dsh tenant add <slug> --name <name>`'
            : app.out.table(
                ['Slug', 'Name', 'Currency', 'Time zone', 'Branches', 'Created'],
                rows.map((t) => [
                  t.slug,
                  t.name,
                  t.currency,
                  t.timezone,
                  t.branchCount ?? 0,
                  formatLocal(t.createdAt, t.timezone),
                ]),
              ),
        )
      }),
    )

  tenant
    .command('collection-account')
    .description(
      'Show or set the tenant’s collection account (where gateways pay in; the debtor of settlement transfers)',
    )
    .argument('<slug>')
    .option('--currency <ccy>', 'which currency (default the tenant currency)')
    .option('--account-name <name>', 'account holder name')
    .option('--account-number <number>', 'bank account number')
    .option('--bank-name <name>', 'bank name')
    .option('--bank-code <code>', 'bank (and branch) code')
    .option('--swift <bic>', 'SWIFT/BIC code, e.g. KCBLKENX')
    .addHelpText(
      'after',
      `
Examples:
  dsh tenant collection-account acme --currency KES --account-name "Acme Ltd" --account-number 0100200300 \
      --bank-name KCB --bank-code 01 --swift KCBLKENX
  dsh tenant collection-account acme --json`,
    )
    .action(
      ctx.action(async (app, slug: string, opts: Record<string, string | undefined>) => {
        const svc = await import('../src/settlement/collection-accounts.js')
        if (!svc.isCollectionChange(opts)) {
          const rows = await svc.showCollectionAccounts(app, slug)
          app.out.result(rows, () =>
            rows.length === 0
              ? `tenant ${slug} has no collection account yet; set one with --account-name, --account-number and --bank-name`
              : rows
                  .map((a) =>
                    app.out.fields([
                      ['Tenant', a.tenant],
                      ['Currency', a.currency],
                      ['Account', `${a.accountName}, ${a.accountNumber}`],
                      ['Bank', [a.bankName, a.bankCode, a.swift].filter(Boolean).join(', ')],
                    ]),
                  )
                  .join('\n\n'),
          )
          return
        }
        const r = await withFlags(svc.setCollectionAccount(app, slug, opts))
        app.out.result(
          r.account,
          () =>
            `${r.created ? 'added' : 'updated'} collection account ${r.account.tenant} ${r.account.currency}: ${r.account.accountName}, ${r.account.accountNumber} (${r.account.bankName})`,
        )
      }),
    )
  return tenant
}
