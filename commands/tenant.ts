import { Command } from 'commander'
import type { CommandContext } from './context.js'

interface AddOptions {
  name?: string
  currency?: string
}

export function tenantCommand(ctx: CommandContext): Command {
  const tenant = new Command('tenant').description('Businesses that own branches')

  tenant
    .command('add')
    .description('Add a tenant (a business)')
    .argument('<slug>', 'lower-case id, e.g. acme')
    .option('--name <name>', 'display name')
    .option('--currency <ccy>', 'default currency', 'KES')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh tenant add acme --name "Acme Restaurants"\n  dsh tenant add nile --name "Nile Foods" --currency UGX --json',
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
        })
        app.out.result(t, () => `added tenant ${t.slug} (${t.name}, ${t.currency})`)
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
                ['Slug', 'Name', 'Currency', 'Branches', 'Created'],
                rows.map((t) => [t.slug, t.name, t.currency, t.branchCount ?? 0, t.createdAt]),
              ),
        )
      }),
    )
  return tenant
}
