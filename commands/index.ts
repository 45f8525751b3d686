import { Command, Option } from 'commander'
import type { Runtime } from '../src/cli/runtime.js'
import { type CommandContext, createContext } from './context.js'
import { VERSION } from './version.js'

interface Entry {
  name: string
  /** Shown by `dsh --help`; a test keeps it equal to the loaded command's description. */
  description: string
  load: (ctx: CommandContext) => Promise<Command>
}

/**
 * Every top-level command. Only the one being run is loaded: the others stand as light stubs
 * with their name and description, so `dsh --help` and every command start fast.
 */
export const COMMANDS: readonly Entry[] = [
  {
    name: 'init',
    description:
      'Create DSH_HOME, the master key and the store, and migrate it (safe to run again)',
    load: async (ctx) => (await import('./init.js')).initCommand(ctx),
  },
  {
    name: 'migrate',
    description: 'Apply pending schema migrations to the store',
    load: async (ctx) => (await import('./init.js')).migrateCommand(ctx),
  },
  {
    name: 'tenant',
    description: 'Businesses that own branches',
    load: async (ctx) => (await import('./tenant.js')).tenantCommand(ctx),
  },
  {
    name: 'branch',
    description: 'Restaurant branches: currency, time zone, rates, methods',
    load: async (ctx) => (await import('./branch.js')).branchCommand(ctx),
  },
  {
    name: 'gateway',
    description: 'Payment gateway configurations per branch, with tenant defaults',
    load: async (ctx) => (await import('./gateway.js')).gatewayCommand(ctx),
  },
  {
    name: 'pay',
    description:
      'Take a payment: route it, try the gateways with safe failover, and print the result',
    load: async (ctx) => (await import('./pay.js')).payCommand(ctx),
  },
  {
    name: 'payments',
    description: 'Payments: list, inspect and resolve',
    load: async (ctx) => (await import('./payments.js')).paymentsCommand(ctx),
  },
  {
    name: 'route',
    description: 'Payment routing rules per branch',
    load: async (ctx) => (await import('./route.js')).routeCommand(ctx),
  },
  {
    name: 'reconcile',
    description:
      'Import bank and M-Pesa statements and reconcile them against payments and settlements',
    load: async (ctx) => (await import('./reconcile.js')).reconcileCommand(ctx),
  },
  {
    name: 'settle',
    description:
      'Settle a branch: batch its succeeded payments per gateway and currency, send the transfers; cash becomes a cash-up for the branch to bank',
    load: async (ctx) => (await import('./settle.js')).settleCommand(ctx),
  },
  {
    name: 'settlements',
    description: 'Settlement batches: list, inspect, complete, fail, retry, cancel, export',
    load: async (ctx) => (await import('./settlements.js')).settlementsCommand(ctx),
  },
  {
    name: 'doctor',
    description:
      'Check the store’s schema objects, settlement invariants, its counters and the outbox: exit 0 when they hold, 8 naming the first violation',
    load: async (ctx) => (await import('./doctor.js')).doctorCommand(ctx),
  },
  {
    name: 'config',
    description: 'Store-wide settings, e.g. the public callback URL',
    load: async (ctx) => (await import('./config.js')).configCommand(ctx),
  },
  {
    name: 'prune',
    description:
      'Remove expired live events and finished callbacks (events-retention, inbox-retention)',
    load: async (ctx) => (await import('./prune.js')).pruneCommand(ctx),
  },
  {
    name: 'sandbox',
    description:
      'Run loopback simulators of Daraja, KCB/Zed, Stripe, Square and a bank API (no store)',
    load: async (ctx) => (await import('./sandbox.js')).sandboxCommand(ctx),
  },
  {
    name: 'keys',
    description: 'The master key that encrypts gateway credentials',
    load: async (ctx) => (await import('./keys.js')).keysCommand(ctx),
  },
  {
    name: 'audit',
    description: 'The append-only, hash-chained audit log',
    load: async (ctx) => (await import('./audit.js')).auditCommand(ctx),
  },
  {
    name: 'report',
    description: 'Takings, success rate, settlement and hourly volume per branch for a day or days',
    load: async (ctx) => (await import('./report.js')).reportCommand(ctx),
  },
  {
    name: 'health',
    description:
      'Check success rates, gateways, backlogs, backups and compliance; exit 8 on alerts',
    load: async (ctx) => (await import('./health.js')).healthCommand(ctx),
  },
  {
    name: 'rates',
    description: 'Exchange rates for converted report totals (exact decimals)',
    load: async (ctx) => (await import('./report.js')).ratesCommand(ctx),
  },
  {
    name: 'backup',
    description:
      'Take a verified backup of the store, with a manifest (the master key is never in it)',
    load: async (ctx) => (await import('./backup.js')).backupCommand(ctx),
  },
  {
    name: 'restore',
    description: 'Replace the store with a verified backup (the current store is kept aside)',
    load: async (ctx) => (await import('./backup.js')).restoreCommand(ctx),
  },
  {
    name: 'daemon',
    description:
      'Receive gateway callbacks, serve the REST API, live events and metrics, run scheduled jobs',
    load: async (ctx) => (await import('./daemon.js')).daemonCommand(ctx),
  },
  {
    name: 'demo',
    description:
      'Run a whole day of a three-branch restaurant group against the sandbox, end to end, in under a minute',
    load: async (ctx) => (await import('./demo.js')).demoCommand(ctx),
  },
  {
    name: 'callbacks',
    description: 'The durable callback inbox: what gateways sent, and what became of it',
    load: async (ctx) => (await import('./callbacks.js')).callbacksCommand(ctx),
  },
  {
    name: 'token',
    description: 'Bearer tokens for the daemon’s REST API and live events',
    load: async (ctx) => (await import('./token.js')).tokenCommand(ctx),
  },
  {
    name: 'watch',
    description: 'Print payments as they change, live from the daemon (server-sent events)',
    load: async (ctx) => (await import('./watch.js')).watchCommand(ctx),
  },
  {
    name: 'exit-codes',
    description: 'List dsh’s exit codes (also: dsh help exit-codes)',
    load: async (ctx) => (await import('./exit-codes.js')).exitCodesCommand(ctx),
  },
  {
    name: 'completion',
    description: 'Print a shell completion script',
    load: async (ctx) => (await import('./completion.js')).completionCommand(ctx),
  },
  {
    name: 'version',
    description: 'Print the version, the schema version and the Node version',
    load: async (ctx) => (await import('./version.js')).versionCommand(ctx),
  },
]

/** Global flags that take a value, to skip it when looking for the command name. */
const VALUE_FLAGS = new Set(['--db'])

/** The top-level command argv asks for (`help <cmd>` asks for <cmd>), if any. */
export function requestedCommand(argv: readonly string[]): string | undefined {
  const words: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? ''
    if (a === '--') break
    if (VALUE_FLAGS.has(a)) i++
    else if (!a.startsWith('-')) words.push(a)
    if (words.length === 2) break
  }
  return words[0] === 'help' ? words[1] : words[0]
}

/**
 * The command tree for this argv: the requested command in full, the rest as stubs (`all`
 * loads every command, for shell completion).
 */
export async function buildProgram(
  rt: Runtime,
  argv: readonly string[] = [],
  all = false,
): Promise<Command> {
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
    .option('--no-color', 'no colour in output (also NO_COLOR=1)')
    .option('--wide', 'tables show every column whole, however narrow the terminal')
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

  const wanted = requestedCommand(argv)
  for (const e of COMMANDS) {
    program.addCommand(
      all || e.name === wanted ? await e.load(ctx) : new Command(e.name).description(e.description),
    )
  }

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
