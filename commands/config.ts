import { Command } from 'commander'
import type { CommandContext } from './context.js'

export function configCommand(ctx: CommandContext): Command {
  const config = new Command('config').description(
    'Store-wide settings, e.g. the public callback URL',
  )
  config
    .command('set')
    .description('Set a setting')
    .argument('<name>', 'public-url')
    .argument('<value>')
    .addHelpText('after', '\nExamples:\n  dsh config set public-url https://pay.example.co.ke')
    .action(
      ctx.action(async (app, name: string, value: string) => {
        const { configSet } = await import('../src/admin/config.js')
        const r = await configSet(app, name, value)
        app.out.result(r, () => `${r.name} = ${r.value}`)
      }),
    )
  config
    .command('get')
    .description('Print one setting, or all')
    .argument('[name]')
    .addHelpText('after', '\nExamples:\n  dsh config get public-url\n  dsh config get --json')
    .action(
      ctx.action(async (app, name: string | undefined) => {
        const { configGet } = await import('../src/admin/config.js')
        const rows = await configGet(app, name)
        // One setting prints its bare value (for `$(dsh config get public-url)`); unset is empty.
        app.out.result(name ? rows[0] : rows, () =>
          name
            ? (rows[0]?.value ?? '')
            : rows.map((r) => `${r.name} = ${r.value ?? '(not set)'}`).join('\n'),
        )
      }),
    )
  return config
}
