import { Command } from 'commander'
import type { CommandContext } from './context.js'

interface WatchOpts {
  branch?: string
  url?: string
  token?: string
  since?: string
}

export function watchCommand(ctx: CommandContext, signals: NodeJS.EventEmitter = process): Command {
  return new Command('watch')
    .description('Print payments as they change, live from the daemon (server-sent events)')
    .option('--branch <code>', 'only this branch')
    .option('--url <url>', 'the daemon (env DSH_DAEMON_URL; default http://127.0.0.1:8080)')
    .option('--token <token>', 'a bearer token (prefer env DSH_TOKEN: flags show in `ps`)')
    .option('--since <event-id>', 'replay the events after this number first')
    .addHelpText(
      'after',
      `
Examples:
  DSH_TOKEN=dsh_… dsh watch --branch westlands
  dsh watch --url http://10.0.0.5:8080 --json        # one JSON object per line

Changes made anywhere (dsh pay in other processes, other daemons) appear; after a dropped
connection it resumes where it stopped. Stops on Ctrl-C or SIGTERM.`,
    )
    .action(
      ctx.action(async (app, opts: WatchOpts) => {
        app.progress.done() // runs until stopped: no progress line
        const { usageError } = await import('../src/core/errors.js')
        const token = opts.token ?? app.rt.env['DSH_TOKEN']
        if (!token)
          throw usageError(
            'missing_token',
            'missing --token (or DSH_TOKEN)',
            'create one with `dsh token create --name <n> --role viewer`',
          )
        if (opts.token)
          app.out.warn('a token given as a flag shows in process listings; prefer DSH_TOKEN')
        if (opts.since !== undefined && !/^\d{1,15}$/.test(opts.since))
          throw usageError('invalid_since', '--since must be an event number')
        const { watchEvents } = await import('../src/cli/watch-client.js')
        const { formatMoney } = await import('../src/core/money/format.js')
        const stop = new AbortController()
        const onTerm = () => stop.abort()
        signals.once('SIGTERM', onTerm)
        try {
          await watchEvents({
            url: opts.url ?? app.rt.env['DSH_DAEMON_URL'] ?? 'http://127.0.0.1:8080',
            token,
            branch: opts.branch,
            lastEventId: opts.since === undefined ? undefined : Number(opts.since),
            signal: stop.signal,
            onInfo: (m) => app.out.info(m),
            onEvent(e) {
              // Retention removed the events after --since: the stream resumes at the oldest kept.
              if (e['type'] === 'events.pruned' && !app.out.json) {
                app.out.info(`dsh watch: ${String(e['message'])}`)
                return
              }
              if (app.out.json) {
                app.rt.stdout.write(`${JSON.stringify(e)}\n`)
                return
              }
              let money = `${String(e['currency'])} ${String(e['amount'])}`
              try {
                money = formatMoney({
                  minor: BigInt(String(e['amountMinor'])),
                  currency: String(e['currency']),
                })
              } catch {
                // keep the plain amount
              }
              const cols = [
                String(e['at'] ?? ''),
                String(e['branch'] ?? ''),
                String(e['paymentId'] ?? ''),
                `${String(e['from'])} → ${String(e['to'])}`,
                money,
                String(e['gateway'] ?? ''),
                String(e['receiptNumber'] ?? ''),
              ]
              app.out.print(`${cols.join('  ').trimEnd()}\n`)
            },
          })
        } finally {
          signals.removeListener('SIGTERM', onTerm)
        }
      }),
    )
}
