import { Command } from 'commander'
import type { CommandContext } from './context.js'

export function initCommand(ctx: CommandContext): Command {
  return new Command('init')
    .description(
      'Create DSH_HOME, the master key and the store, and migrate it (safe to run again)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  dsh init\n  DSH_HOME=/srv/dsh dsh init --json\n  dsh init --db postgres://dsh@db.internal/dsh',
    )
    .action(
      ctx.action(async (app) => {
        const { initialise } = await import('../src/admin/init.js')
        const r = await initialise(app)
        app.out.result(r, () =>
          app.out.fields([
            ['Home', r.home],
            ['Store', `${r.store} (${r.dialect})`],
            [
              'Master key',
              r.keySource === 'env'
                ? 'from DSH_MASTER_KEY'
                : `${r.keyFile}${r.keyCreated ? ' (created)' : ''}`,
            ],
            [
              'Migrations',
              r.migrationsApplied.length
                ? `applied ${r.migrationsApplied.join(', ')}`
                : 'up to date',
            ],
          ]),
        )
      }),
    )
}

export function migrateCommand(ctx: CommandContext): Command {
  const migrate = new Command('migrate')
    .description('Apply pending schema migrations to the store')
    .addHelpText('after', '\nExamples:\n  dsh migrate\n  dsh migrate status --json')
    .action(
      ctx.action(async (app) => {
        const { migrateToLatest } = await import('../src/store/migrate.js')
        const store = await app.rawStore()
        const applied = await migrateToLatest(store)
        const { recordMigrations } = await import('../src/admin/init.js')
        await recordMigrations(app, applied)
        app.out.result({ store: store.location, applied }, () =>
          applied.length ? `applied ${applied.join(', ')}` : 'the store is up to date',
        )
      }),
    )
  migrate
    .command('status')
    .description('List migrations and whether each is applied')
    .action(
      ctx.action(async (app) => {
        const { schemaStatus } = await import('../src/store/migrate.js')
        const store = await app.rawStore()
        const s = await schemaStatus(store)
        app.out.result({ store: store.location, ...s }, () =>
          app.out.table(
            ['Migration', 'Applied at'],
            [
              ...s.migrations.map((m) => [m.name, m.appliedAt ?? 'pending']),
              ...s.unknown.map((n) => [n, 'applied by a newer dsh']),
            ],
          ),
        )
      }),
    )
  return migrate
}
