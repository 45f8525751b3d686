import { Command } from 'commander'
import { DEFAULT_LIST_LIMIT } from '../src/core/list.js'
import { INSTANT_HELP, localColumn } from '../src/core/time.js'
import type { CommandContext } from './context.js'

interface ListOptions {
  branch?: string
  since?: string
  until?: string
  action?: string
  limit?: string
  all?: boolean
}

export function auditCommand(ctx: CommandContext): Command {
  const audit = new Command('audit').description('The append-only, hash-chained audit log')
  audit
    .command('list')
    .description('List audit rows, oldest first')
    .option('--branch <code>', 'only rows about this branch')
    .option('--since <time>', 'only rows at or after this instant (included)')
    .option('--until <time>', 'only rows before this instant (excluded)')
    .option(
      '--action <name>',
      'only this action, e.g. gateway.create, or a prefix with *, e.g. gateway.*',
    )
    .option('--limit <n>', `the newest n rows, shown oldest first (default ${DEFAULT_LIST_LIMIT})`)
    .option('--all', 'every matching row (streamed)')
    .addHelpText(
      'after',
      `
${INSTANT_HELP}
Times are shown in the branch’s time zone (with --branch), else the tenant’s; --json keeps UTC.

Examples:
  dsh audit list --branch westlands
  dsh audit list --action "gateway.*" --since 2026-11-01 --json
  dsh audit list --since yesterday --until today --all`,
    )
    .action(
      ctx.action(async (app, opts: ListOptions) => {
        const { auditList } = await import('../src/audit/audit.js')
        const { displayZone } = await import('../src/tenants/tenants.js')
        const { asFlags } = await import('../src/cli/field-flags.js')
        const { emitList } = await import('../src/cli/list.js')
        const zone = await displayZone(app, { branch: opts.branch })
        const at = localColumn('At', zone, app.clock.now())
        const list = await auditList(app, opts, zone).catch((e) => {
          throw asFlags(e)
        })
        await emitList(app, {
          pages: list.pages,
          more: list.more,
          empty: 'no audit rows match',
          render: (rows, first) =>
            app.out.table(
              [
                { header: 'Seq', align: 'right', priority: 60 },
                { header: at.header, priority: 90 },
                { header: 'Actor', priority: 55 },
                { header: 'Action', priority: 100 },
                { header: 'Tenant', priority: 30 },
                { header: 'Branch', priority: 45 },
                { header: 'Target', priority: 20 },
                'Outcome',
              ],
              rows.map((r) => [
                r.seq,
                at.cell(r.at),
                r.actor,
                r.action,
                r.tenant ?? '',
                r.branch ?? '',
                r.target ?? '',
                r.outcome,
              ]),
              { header: first },
            ),
        })
      }),
    )
  audit
    .command('verify')
    .description('Check the hash chain: exit 0 when intact, 8 naming the first broken row')
    .option('--expect <seq:hash>', 'the chain must still hold this row (from `dsh audit head`)')
    .option(
      '--anchors <file>',
      'the chain must hold every anchor of this file (the daemon writes one daily)',
    )
    .addHelpText(
      'after',
      `
The chain alone cannot show that its newest rows were cut off together with the stored head:
keep \`dsh audit head\` outside the store (the daemon appends it daily to audit-anchors.log) and
check against it with --expect or --anchors.

Examples:
  dsh audit verify
  dsh audit verify --expect 1042:9f2c…
  dsh audit verify --anchors /mnt/worm/audit-anchors.log --json`,
    )
    .action(
      ctx.action(async (app, opts: { expect?: string; anchors?: string }) => {
        const { auditVerify } = await import('../src/audit/audit.js')
        const { parseExpect, readAnchors } = await import('../src/audit/anchors.js')
        const anchors = [
          ...(opts.expect !== undefined ? [parseExpect(opts.expect)] : []),
          ...(opts.anchors !== undefined ? readAnchors(opts.anchors) : []),
        ]
        const r = await auditVerify(app, anchors)
        // Before printing: an early reader of stdout must not turn a broken chain into exit 0.
        app.rt.verdict?.(r.ok ? 'ok' : 'findings')
        app.out.result(r, () =>
          r.ok
            ? `audit chain intact: ${r.rows} row(s), head at ${r.headSeq}${r.anchorsChecked ? `; holds all ${r.anchorsChecked} anchor(s)` : ''}`
            : `audit chain BROKEN at row ${r.firstBrokenSeq}: ${r.reason}`,
        )
        if (!r.ok) {
          const { DshError } = await import('../src/core/errors.js')
          throw new DshError(
            'findings',
            'audit_chain_broken',
            `the audit chain is broken at row ${r.firstBrokenSeq}: ${r.reason}`,
            {
              hint: 'rows were changed, deleted or inserted outside dsh; restore the store from a backup and investigate',
            },
          )
        }
      }),
    )
  audit
    .command('head')
    .description('Print the chain head (seq, hash, time) to keep outside the store')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh audit head\n  dsh audit head --json >> /mnt/worm/anchors.log',
    )
    .action(
      ctx.action(async (app) => {
        const { auditHead } = await import('../src/audit/audit.js')
        const h = await auditHead(app)
        app.out.result(h, () =>
          h.seq === 0 ? 'the audit log is empty' : `${h.seq}:${h.hash}  (${h.at})`,
        )
      }),
    )
  return audit
}
