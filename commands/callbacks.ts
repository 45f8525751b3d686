import { Command } from 'commander'
import { DEFAULT_LIST_LIMIT } from '../src/core/list.js'
import { formatLocal, INSTANT_HELP, localColumn } from '../src/core/time.js'
import type { CommandContext } from './context.js'

export function callbacksCommand(ctx: CommandContext): Command {
  const callbacks = new Command('callbacks').description(
    'The durable callback inbox: what gateways sent, and what became of it',
  )
  callbacks
    .command('list')
    .description('List stored callbacks, newest first')
    .option(
      '--status <status>',
      'received | processing | unmatched | applied | ignored | review | orphaned | rejected | invalid | failed',
    )
    .option('--gateway <type>', 'mpesa | mpesa-kcb | stripe | square | bank')
    .option('--branch <code>', 'only this branch')
    .option('--since <time>', 'received at or after this instant (included)')
    .option('--until <time>', 'received before this instant (excluded)')
    .option('--limit <n>', `at most n, newest first (default ${DEFAULT_LIST_LIMIT})`)
    .option('--all', 'every matching callback (streamed)')
    .addHelpText(
      'after',
      `
${INSTANT_HELP}
Times are shown in the branch’s time zone (with --branch), else the tenant’s; --json keeps UTC.

Examples:
  dsh callbacks list --status orphaned
  dsh callbacks list --branch westlands --since 24h --json`,
    )
    .action(
      ctx.action(async (app, opts: Record<string, string | undefined>) => {
        const { callbacksList } = await import('../src/callbacks/inbox.js')
        const { asFlags } = await import('../src/cli/field-flags.js')
        const { emitList } = await import('../src/cli/list.js')
        const list = await callbacksList(app, {
          ...opts,
          all: (opts['all'] as unknown) === true,
        }).catch((e) => {
          throw asFlags(e)
        })
        const received = localColumn('Received', list.zone, app.clock.now())
        await emitList(app, {
          pages: list.pages,
          more: list.more,
          empty: 'no callbacks match',
          render: (rows, first) =>
            app.out.table(
              [
                { header: 'Callback', priority: 100 },
                { header: received.header, priority: 90 },
                { header: 'Gateway', priority: 70 },
                { header: 'Branch', priority: 60 },
                'Status',
                { header: 'Dups', priority: 20 },
                { header: 'Tries', priority: 25 },
                { header: 'Payment', priority: 40 },
                { header: 'Note', priority: 30 },
              ],
              rows.map((r) => [
                r.id,
                received.cell(r.receivedAt),
                r.gateway,
                r.branch ?? '',
                r.status,
                r.duplicates,
                r.attempts,
                r.paymentId ?? '',
                (r.note ?? r.lastError ?? '').slice(0, 80),
              ]),
              { header: first },
            ),
        })
      }),
    )
  callbacks
    .command('show')
    .description('Show one callback with its stored body (secrets redacted)')
    .argument('<id>')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh callbacks show cb_01JD…\n  dsh callbacks show cb_01JD… --json',
    )
    .action(
      ctx.action(async (app, id: string) => {
        const { callbacksShow } = await import('../src/callbacks/inbox.js')
        const c = await callbacksShow(app, id)
        const { displayZone } = await import('../src/tenants/tenants.js')
        const zone = app.out.json ? 'UTC' : await displayZone(app, { branch: c.branch })
        app.out.result(c, () =>
          [
            app.out.fields([
              ['Callback', c.id],
              ['Key', c.dedupeKey],
              ['Gateway', c.gateway],
              ['Branch', c.branch ?? undefined],
              ['Status', c.status],
              ['Received', formatLocal(c.receivedAt, zone)],
              ['From', c.remoteAddr ?? undefined],
              ['Duplicates', c.duplicates],
              ['Attempts', c.attempts],
              ['Payment', c.paymentId ?? undefined],
              ['Note', c.note ?? undefined],
              ['Last error', c.lastError ?? undefined],
              ['Processed', c.processedAt ? formatLocal(c.processedAt, zone) : undefined],
            ]),
            '',
            JSON.stringify(c.body, null, 2),
          ].join('\n'),
        )
      }),
    )
  callbacks
    .command('replay')
    .description('Process a stored callback again now (never applies it twice)')
    .argument('<id>')
    .addHelpText('after', '\nExamples:\n  dsh callbacks replay cb_01JD…')
    .action(
      ctx.action(async (app, id: string) => {
        const { replayCallback, DEFAULT_UNMATCHED_WINDOW_MS } = await import(
          '../src/callbacks/process.js'
        )
        const r = await replayCallback(app, id, {
          unmatchedWindowMs: DEFAULT_UNMATCHED_WINDOW_MS,
          actor: `${app.actor} (replay)`,
        })
        app.out.result(
          r,
          () =>
            `callback ${r.id}: ${r.status}${r.note ? ` (${r.note})` : ''}${r.paymentId ? `, payment ${r.paymentId}` : ''}`,
        )
      }),
    )
  return callbacks
}
