import { Command } from 'commander'
import { usageError } from '../src/core/errors.js'
import type { CommandContext } from './context.js'

interface SandboxOptions {
  port: string
  host: string
  callbackDelay: string
}

/** Where stop signals come from: the process, or an EventEmitter in tests. */
export interface SignalSource {
  prependOnceListener(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown
  removeListener(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown
}

function wholeNumber(flag: string, value: string, max: number): number {
  if (!/^\d{1,7}$/.test(value) || Number(value) > max)
    throw usageError(
      'invalid_flag',
      `${flag} must be a whole number from 0 to ${max}, not "${value}"`,
    )
  return Number(value)
}

/**
 * Waits for SIGINT or SIGTERM. `stop` runs inside the listener, which is put first: on Ctrl-C the
 * entry point exits 130 right after, so closing must start synchronously.
 */
function nextSignal(signals: SignalSource, stop: () => void): Promise<string> {
  return new Promise((resolve) => {
    const onInt = () => done('SIGINT')
    const onTerm = () => done('SIGTERM')
    const done = (sig: string) => {
      signals.removeListener('SIGINT', onInt)
      signals.removeListener('SIGTERM', onTerm)
      stop()
      resolve(sig)
    }
    signals.prependOnceListener('SIGINT', onInt)
    signals.prependOnceListener('SIGTERM', onTerm)
  })
}

export function sandboxCommand(ctx: CommandContext, signals: SignalSource = process): Command {
  return new Command('sandbox')
    .description(
      'Run loopback simulators of Daraja, KCB/Zed, Stripe, Square and a bank API (no store)',
    )
    .option('--port <n>', 'port to listen on; 0 picks a free one', '8090')
    .option('--host <addr>', 'loopback address to bind (127.0.0.1, ::1 or localhost)', '127.0.0.1')
    .option(
      '--callback-delay <ms>',
      'how long the simulated customer takes before the callback',
      '300',
    )
    .addHelpText(
      'after',
      `
Examples:
  dsh sandbox
  dsh sandbox --port 0 --callback-delay 50 --verbose
  curl -s localhost:8090/__control/magic

Point a gateway at it with --base-url http://127.0.0.1:8090. Control endpoints:
GET /__control/ledger | deliveries | requests | magic; POST /__control/reset | script |
webhooks | passkeys | c2b | expire-tokens. Statements of the ledger, for dsh reconcile import:
GET /__control/statements/mpesa?shortcode=174379&from=2026-11-01&to=2026-11-30 (--profile mpesa),
GET /__control/statements/bank?account=<number>&from=…&to=… (--profile bank).
Stops on Ctrl-C or SIGTERM.`,
    )
    .action(
      ctx.action(async (app, opts: SandboxOptions) => {
        app.progress.done() // runs until stopped: no progress line
        const port = wholeNumber('--port', opts.port, 65_535)
        const callbackDelayMs = wholeNumber('--callback-delay', opts.callbackDelay, 600_000)
        const {
          startSandbox,
          MAGIC_PHONES,
          MAGIC_CARDS,
          REFUSED_CREDENTIAL,
          SANDBOX_SHORTCODE,
          SANDBOX_PASSKEY,
        } = await import('../src/sandbox/index.js')
        const err = (line: string) => app.out.info(line)
        const sb = await startSandbox({
          host: opts.host,
          port,
          callbackDelayMs,
          ...(app.globals.verbose ? { log: err } : {}),
        })
        const stopped = nextSignal(signals, () => void sb.close())
        err(`dsh sandbox listening on ${sb.url} (callback delay ${callbackDelayMs} ms)`)
        err(
          `  Daraja shortcode ${SANDBOX_SHORTCODE}, passkey ${SANDBOX_PASSKEY}; any consumer key/secret`,
        )
        err(
          `  credentials are accepted unless they are "${REFUSED_CREDENTIAL}" (Stripe keys must start with sk_)`,
        )
        err('  magic phones (M-Pesa and KCB):')
        for (const [phone, m] of Object.entries(MAGIC_PHONES))
          err(`    0${phone.slice(3)}  ${m.outcome.padEnd(19)} ${m.what}`)
        err('  magic cards:')
        for (const [card, m] of Object.entries(MAGIC_CARDS)) err(`    ${card.padEnd(40)} ${m.what}`)
        err('  any other number or card succeeds; script more with POST /__control/script')
        if (app.out.json) app.rt.stdout.write(`${JSON.stringify({ url: sb.url, port: sb.port })}\n`)
        const signal = await stopped
        await sb.close()
        err(`dsh sandbox stopped (${signal})`)
      }),
    )
}
