import { Command } from 'commander'
import { formatLocal } from '../src/core/time.js'
import type { CommandContext } from './context.js'

export function tokenCommand(ctx: CommandContext): Command {
  const token = new Command('token').description(
    'Bearer tokens for the daemon’s REST API and live events',
  )
  token
    .command('create')
    .description('Create a token; it is shown once, only its hash is stored')
    .option('--name <name>', 'a name for the token (the actor in the audit log)')
    .option(
      '--role <role>',
      'viewer (GET only) | operator (also takes payments) | admin (everything)',
    )
    .option('--tenant <slug>', 'limit the token to one tenant (default: every tenant)')
    .addHelpText(
      'after',
      `
Examples:
  dsh token create --name pos-westlands --role operator --tenant acme
  dsh token create --name grafana --role viewer --json`,
    )
    .action(
      ctx.action(async (app, opts: { name?: string; role?: string; tenant?: string }) => {
        const { createToken } = await import('../src/access/tokens.js')
        const t = await createToken(app, opts)
        // stdout holds the token alone, so `T=$(dsh token create …)` captures exactly it.
        app.out.result(t, () => t.token)
        if (!app.out.json) {
          app.out.info(
            `token "${t.name}" (${t.role}${t.tenant ? `, tenant ${t.tenant}` : ', every tenant'}) created.\nCopy it now: it is not stored and cannot be shown again.`,
          )
        }
      }),
    )
  token
    .command('list')
    .description('List tokens (never their values)')
    .addHelpText('after', '\nExamples:\n  dsh token list\n  dsh token list --json')
    .action(
      ctx.action(async (app) => {
        const { listTokens } = await import('../src/access/tokens.js')
        const rows = await listTokens(app)
        const { displayZone } = await import('../src/tenants/tenants.js')
        const zone = app.out.json ? 'UTC' : await displayZone(app)
        app.out.result(rows, () =>
          rows.length === 0
            ? 'no tokens; create one with `dsh token create --name <n> --role viewer`'
            : app.out.table(
                [
                  'Name',
                  'Role',
                  { header: 'Tenant', priority: 45 },
                  { header: 'Token', priority: 40 },
                  { header: 'Created', priority: 30 },
                  { header: 'Last used', priority: 35 },
                  { header: 'Revoked', priority: 60 },
                ],
                rows.map((r) => [
                  r.name,
                  r.role,
                  r.tenant ?? '(all)',
                  r.prefix,
                  formatLocal(r.createdAt, zone),
                  formatLocal(r.lastUsedAt, zone),
                  formatLocal(r.revokedAt, zone),
                ]),
              ),
        )
      }),
    )
  token
    .command('revoke')
    .description('Revoke a token at once (by name or id)')
    .argument('<name-or-id>')
    .addHelpText('after', '\nExamples:\n  dsh token revoke pos-westlands')
    .action(
      ctx.action(async (app, nameOrId: string) => {
        const { revokeToken } = await import('../src/access/tokens.js')
        const t = await revokeToken(app, nameOrId)
        app.out.result(t, () => `revoked token "${t.name}" (${t.id})`)
      }),
    )
  return token
}
