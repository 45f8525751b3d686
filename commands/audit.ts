import { Command } from 'commander'
import type { CommandContext } from './context.js'

interface ListOptions {
  branch?: string
  since?: string
  action?: string
  limit?: string
}

export function auditCommand(ctx: CommandContext): Command {
  const audit = new Command('audit').description('The append-only, hash-chained audit log')
  audit
    .command('list')
    .description('List audit rows, oldest first')
    .option('--branch <code>', 'only rows about this branch')
    .option('--since <time>', 'only rows at or after this ISO date/time, e.g. 2026-11-01')
    .option(
      '--action <name>',
      'only this action, e.g. gateway.create, or a prefix with *, e.g. gateway.*',
    )
    .option('--limit <n>', 'at most n rows')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh audit list --branch westlands\n  dsh audit list --action "gateway.*" --since 2026-11-01 --json',
    )
    .action(
      ctx.action(async (app, opts: ListOptions) => {
        const { auditList } = await import('../src/audit/audit.js')
        const { parseAuditFilter } = await import('../src/audit/filter.js')
        const rows = await auditList(app, parseAuditFilter(opts))
        app.out.result(rows, () =>
          rows.length === 0
            ? 'no audit rows match'
            : app.out.table(
                ['Seq', 'At', 'Actor', 'Action', 'Tenant', 'Branch', 'Target', 'Outcome'],
                rows.map((r) => [
                  r.seq,
                  r.at,
                  r.actor,
                  r.action,
                  r.tenant ?? '',
                  r.branch ?? '',
                  r.target ?? '',
                  r.outcome,
                ]),
              ),
        )
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
