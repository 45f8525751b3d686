import { Command } from 'commander'
import { stopQuickZones } from '../src/cli/quick-zones.js'
import type { CommandContext } from './context.js'

/** Where stop signals come from: the process, or an EventEmitter in tests. */
export interface DaemonSignals {
  prependOnceListener(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown
  removeListener(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown
}

export function daemonCommand(ctx: CommandContext, signals: DaemonSignals = process): Command {
  return new Command('daemon')
    .description(
      'Receive gateway callbacks, serve the REST API, live events and metrics, run scheduled jobs',
    )
    .option('--host <addr>', 'address to listen on (env DSH_DAEMON_HOST; default 127.0.0.1)')
    .option('--port <n>', 'port; 0 picks a free one (env DSH_DAEMON_PORT; default 8080)')
    .option(
      '--public-url <url>',
      'the base URL gateways call back, stored for every dsh process (env DSH_PUBLIC_URL)',
    )
    .option(
      '--recovery-schedule <offsets>',
      'checks of a pending payment after its push (env DSH_RECOVERY_SCHEDULE; default 30s,60s,120s,180s)',
    )
    .option(
      '--unknown-schedule <offsets>',
      'checks of an unknown payment, every/until (env DSH_UNKNOWN_SCHEDULE; default 1h/24h)',
    )
    .option(
      '--recovery-interval <duration>',
      'how often the recovery job runs (env DSH_RECOVERY_INTERVAL; default 5s)',
    )
    .option(
      '--unmatched-window <duration>',
      'how long a callback matching no payment is retried before it is orphaned (default 10m)',
    )
    .option(
      '--mpesa-allow-ips <list>',
      'Daraja source addresses allowed, IPs or IPv4 CIDRs, comma-separated (env DSH_MPESA_ALLOW_IPS)',
    )
    .option(
      '--trust-proxy',
      'behind a reverse proxy: read X-Forwarded-For from --trusted-proxies (env DSH_TRUST_PROXY)',
    )
    .option(
      '--trusted-proxies <cidr,…>',
      'the proxies whose X-Forwarded-For counts; implies --trust-proxy (env DSH_TRUSTED_PROXIES; default 127.0.0.0/8,::1)',
    )
    .option(
      '--shutdown-timeout <duration>',
      'how long SIGTERM waits for in-flight work (default 10s)',
    )
    .option('--log-level <level>', 'debug | info | warn | error (env DSH_LOG_LEVEL; default info)')
    .addHelpText(
      'after',
      `
Examples:
  dsh daemon --public-url https://pay.example.co.ke
  dsh daemon --host 0.0.0.0 --port 8080 --mpesa-allow-ips 196.201.214.0/24,196.201.213.0/24
  DSH_DB=postgres://dsh@db/dsh dsh daemon --port 8081      # several daemons on PostgreSQL

Logs are JSON lines on stderr; --json prints {"url","port","pid"} on stdout once listening.
Stops on SIGTERM or Ctrl-C: stops accepting, finishes in-flight work, stops the jobs, exits 0.
On SQLite one daemon runs per store (a second exits 7).`,
    )
    .action(
      ctx.action(async (app, opts: Record<string, string | boolean | undefined>) => {
        app.progress.done() // runs until stopped: no progress line
        const { parseDaemonOptions, runDaemon } = await import('../src/daemon/index.js')
        // Its worker threads share ICU's default zone, which quick zone lookups reset.
        stopQuickZones()
        const options = parseDaemonOptions(
          opts as Parameters<typeof parseDaemonOptions>[0],
          app.rt.env,
        )
        // While it runs, Ctrl-C stops the daemon cleanly (exit 0) instead of the entry point's
        // immediate exit 130; a second Ctrl-C during the shutdown still exits at once.
        const saved = signals === process ? process.listeners('SIGINT') : []
        for (const l of saved) process.removeListener('SIGINT', l)
        const restore = () => {
          for (const l of saved.splice(0)) process.on('SIGINT', l)
        }
        try {
          await runDaemon(app, options, {
            signals,
            onStopping: restore,
            onListening: (info) => {
              if (app.out.json) app.rt.stdout.write(`${JSON.stringify(info)}\n`)
            },
          })
        } finally {
          restore()
        }
      }),
    )
}
