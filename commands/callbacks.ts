import { Command } from 'commander'
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
    .option('--limit <n>', 'at most n (default 500)')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh callbacks list --status orphaned\n  dsh callbacks list --branch westlands --json',
    )
    .action(
      ctx.action(async (app, opts: Record<string, string | undefined>) => {
        const { callbacksList } = await import('../src/callbacks/inbox.js')
        const rows = await callbacksList(app, opts)
        app.out.result(rows, () =>
          rows.length === 0
            ? 'no callbacks match'
            : app.out.table(
                [
                  'Callback',
                  'Received',
                  'Gateway',
                  'Branch',
                  'Status',
                  'Dups',
                  'Tries',
                  'Payment',
                  'Note',
                ],
                rows.map((r) => [
                  r.id,
                  r.receivedAt,
                  r.gateway,
                  r.branch ?? '',
                  r.status,
                  r.duplicates,
                  r.attempts,
                  r.paymentId ?? '',
                  (r.note ?? r.lastError ?? '').slice(0, 80),
                ]),
              ),
        )
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
        app.out.result(c, () =>
          [
            app.out.fields([
              ['Callback', c.id],
              ['Key', c.dedupeKey],
              ['Gateway', c.gateway],
              ['Branch', c.branch ?? undefined],
              ['Status', c.status],
              ['Received', c.receivedAt],
              ['From', c.remoteAddr ?? undefined],
              ['Duplicates', c.duplicates],
              ['Attempts', c.attempts],
              ['Payment', c.paymentId ?? undefined],
              ['Note', c.note ?? undefined],
              ['Last error', c.lastError ?? undefined],
              ['Processed', c.processedAt ?? undefined],
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
