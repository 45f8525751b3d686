import { Command, Option } from 'commander'
import type { Runtime } from '../src/cli/runtime.js'
import { auditCommand } from './audit.js'
import { branchCommand } from './branch.js'
import { callbacksCommand } from './callbacks.js'
import { completionCommand } from './completion.js'
import { configCommand } from './config.js'
import { createContext } from './context.js'
import { daemonCommand } from './daemon.js'
import { exitCodesCommand } from './exit-codes.js'
import { gatewayCommand } from './gateway.js'
import { initCommand, migrateCommand } from './init.js'
import { keysCommand } from './keys.js'
import { payCommand } from './pay.js'
import { paymentsCommand } from './payments.js'
import { routeCommand } from './route.js'
import { sandboxCommand } from './sandbox.js'
import { tenantCommand } from './tenant.js'
import { tokenCommand } from './token.js'
import { VERSION, versionCommand } from './version.js'
import { watchCommand } from './watch.js'

/** The whole command tree. Only commander is loaded here; each action imports what it needs. */
export function buildProgram(rt: Runtime): Command {
  const ctx = createContext(rt)
  const program = new Command('dsh')
    .description(
      'Finance operations for multi-branch restaurants: gateways, payments, settlement, reconciliation',
    )
    .version(VERSION, '-V, --version', 'print the version')
    .addOption(
      new Option(
        '--db <path|url>',
        'SQLite file or postgres:// URL (env DSH_DB; default $DSH_HOME/dsh.db)',
      ),
    )
    .option('--json', 'print one JSON document on stdout')
    .option('--no-input', 'never prompt; a missing value is an error')
    .option('-y, --yes', 'answer yes to confirmations')
    .option('--verbose', 'show stack traces and details on errors')
    .option('--no-color', 'no colour in output')
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Examples:
  dsh init
  dsh tenant add acme --name "Acme Restaurants"
  dsh branch add westlands --tenant acme --name Westlands --currency KES
  dsh branch list --json

Exit codes: 0 ok, 1 internal error, 2 usage, 3 invalid input, 4 not found, 5 conflict,
6 gateway unavailable, 7 configuration/store, 8 findings, 130 interrupted.`,
    )

  program.addCommand(initCommand(ctx))
  program.addCommand(migrateCommand(ctx))
  program.addCommand(tenantCommand(ctx))
  program.addCommand(branchCommand(ctx))
  program.addCommand(gatewayCommand(ctx))
  program.addCommand(payCommand(ctx))
  program.addCommand(paymentsCommand(ctx))
  program.addCommand(routeCommand(ctx))
  program.addCommand(configCommand(ctx))
  program.addCommand(sandboxCommand(ctx))
  program.addCommand(keysCommand(ctx))
  program.addCommand(auditCommand(ctx))
  program.addCommand(daemonCommand(ctx))
  program.addCommand(callbacksCommand(ctx))
  program.addCommand(tokenCommand(ctx))
  program.addCommand(watchCommand(ctx))
  program.addCommand(exitCodesCommand(ctx))
  program.addCommand(completionCommand(ctx))
  program.addCommand(versionCommand(ctx))

  applyEverywhere(program, rt)
  return program
}

function applyEverywhere(cmd: Command, rt: Runtime): void {
  cmd.exitOverride()
  cmd.configureOutput({
    writeOut: (s) => rt.stdout.write(s),
    writeErr: (s) => rt.stderr.write(s),
    // Errors are printed once, by runCli, in text or JSON.
    outputError: () => {},
  })
  for (const sub of cmd.commands) applyEverywhere(sub, rt)
}
