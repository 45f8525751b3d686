import { type Command, CommanderError } from 'commander'
import { DshError } from '../core/errors.js'
import { EXIT_CODES } from '../core/exit-codes.js'
import { asFlags } from './field-flags.js'
import type { Runtime } from './runtime.js'

const OK_CODES = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help'])

/** Parses argv, runs the command and turns every outcome into an exit code. Never throws. */
export async function runCli(
  rt: Runtime,
  argv: string[],
  build: (rt: Runtime, argv: readonly string[]) => Command | Promise<Command>,
): Promise<number> {
  const json = argv.includes('--json')
  const verbose = argv.includes('--verbose')
  try {
    const program = await build(rt, argv)
    await program.parseAsync(argv, { from: 'user' })
    return 0
  } catch (err) {
    if (err instanceof CommanderError) {
      if (OK_CODES.has(err.code)) return 0
      const message = err.message.replace(/^error: /, '')
      const hint =
        err.code === 'commander.unknownCommand' || err.code === 'commander.unknownOption'
          ? 'see `dsh --help` or `dsh help <command>`'
          : 'see `dsh help <command>` for its flags'
      return report(
        rt,
        new DshError('usage', err.code.replace('commander.', ''), message, { hint }),
        json,
        verbose,
      )
    }
    if (err instanceof DshError) return report(rt, asFlags(err) as DshError, json, verbose)
    if (err instanceof Error && err.name === 'ExitPromptError') {
      rt.stderr.write('dsh: interrupted\n')
      return EXIT_CODES.interrupted
    }
    const wrapped = new DshError(
      'internal',
      'internal_error',
      `internal error: ${(err as Error)?.message ?? String(err)}`,
      {
        hint: 'this is a bug in dsh; run again with --verbose and report the output',
        cause: err,
      },
    )
    return report(rt, wrapped, json, verbose)
  }
}

async function report(
  rt: Runtime,
  err: DshError,
  json: boolean,
  verbose: boolean,
): Promise<number> {
  const { createOutput } = await import('./output.js')
  createOutput(rt, { json }).error(err, verbose)
  return EXIT_CODES[err.kind]
}
