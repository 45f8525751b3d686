import { Command } from 'commander'
import type { CommandContext } from './context.js'

export const EXIT_CODE_TABLE: readonly [number, string, string][] = [
  [0, 'ok', 'the command did what was asked'],
  [1, 'internal', 'a bug in dsh: run again with --verbose and report it'],
  [2, 'usage', 'unknown command or flag, missing flags, a confirmation that needs --yes'],
  [3, 'invalid input', 'a bad amount, currency, phone, code, rate, time zone or file'],
  [4, 'not found', 'an unknown or disabled tenant, branch, payment or configuration'],
  [
    5,
    'conflict',
    'already exists, an idempotency key reused for another request, an outcome still unknown',
  ],
  [6, 'gateway unavailable', 'no gateway could be attempted, or the outcome is unknown'],
  [
    7,
    'configuration / store',
    'no store (run dsh init), not migrated, a newer schema, missing or wrong master key',
  ],
  [
    8,
    'findings',
    'a payment failed or was cancelled, discrepancies, a broken audit chain, a forged, unsigned or changed backup',
  ],
  [130, 'interrupted', 'Ctrl-C'],
]

const text = () =>
  EXIT_CODE_TABLE.map(([c, k, w]) => `  ${String(c).padStart(3)}  ${k.padEnd(22)}${w}`).join('\n')

export function exitCodesCommand(ctx: CommandContext): Command {
  return new Command('exit-codes')
    .description('List dsh’s exit codes (also: dsh help exit-codes)')
    .addHelpText(
      'after',
      `\nExit codes:\n${text()}\n\nWhen several problems apply, the most basic wins: usage, then invalid input, then not found, then conflict.`,
    )
    .action(
      ctx.action(async (app) => {
        app.out.result(
          EXIT_CODE_TABLE.map(([code, kind, meaning]) => ({ code, kind, meaning })),
          text,
        )
      }),
    )
}
