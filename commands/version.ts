import { Command } from 'commander'
import type { CommandContext } from './context.js'

export { VERSION } from '../src/version.js'

import { VERSION } from '../src/version.js'

export function versionCommand(ctx: CommandContext): Command {
  return new Command('version')
    .description('Print the version, the schema version and the Node version')
    .addHelpText('after', '\nExamples:\n  dsh version\n  dsh version --json')
    .action(
      ctx.action(async (app) => {
        const { MIGRATIONS } = await import('../migrations/index.js')
        const names = Object.keys(MIGRATIONS).sort()
        const data = {
          version: VERSION,
          schemaVersion: names[names.length - 1] ?? null,
          node: process.version,
        }
        app.out.result(
          data,
          () => `dsh ${VERSION}\nschema ${data.schemaVersion}\nnode ${data.node}`,
        )
      }),
    )
}
