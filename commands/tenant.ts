import { Command } from 'commander'
import { formatLocal } from '../src/core/time.js'
import type { CommandContext } from './context.js'

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
          { key: 'name', flag: '--name', message: 'Tenant name' },
        ])
        const { addTenant } = await import('../src/tenants/tenants.js')
        const t = await addTenant(app, {
          slug,
          name: filled['name'] ?? '',
          currency: opts.currency,
          timezone: opts.timezone,
        })
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
  return tenant
}
