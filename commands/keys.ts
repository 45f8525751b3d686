import { Command } from 'commander'
import type { CommandContext } from './context.js'

export function keysCommand(ctx: CommandContext): Command {
  const keys = new Command('keys').description('The master key that encrypts gateway credentials')
  keys
    .command('rotate')
    .description('Make a new master key and re-encrypt every secret with it, in one transaction')
    .option('--dry-run', 'count the secrets that would be re-encrypted, change nothing')
    .addHelpText(
      'after',
      `
Examples:
  dsh keys rotate --dry-run
  dsh keys rotate
  DSH_MASTER_KEY=<old> DSH_NEW_MASTER_KEY=<new> dsh keys rotate   # containers

Back up DSH_HOME first: files under $DSH_HOME/backups/ keep the key they were written with.`,
    )
    .action(
      ctx.action(async (app, opts: { dryRun?: boolean }) => {
        const { rotateKeys } = await import('../src/vault/keys.js')
        const r = await rotateKeys(app, opts)
        app.out.result(r, () =>
          r.dryRun
            ? `would re-encrypt ${r.secretsReencrypted} secret(s) now under key ${r.fromKeyId}`
            : [
                `rotated master key ${r.fromKeyId} → ${r.toKeyId}${r.resumed ? ' (finished an interrupted rotation)' : ''}`,
                `re-encrypted ${r.secretsReencrypted} secret(s)`,
                ...(r.nextStep ? [`next: ${r.nextStep}`] : []),
              ].join('\n'),
        )
      }),
    )
  return keys
}
