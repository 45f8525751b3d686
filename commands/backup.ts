import { Command } from 'commander'
import type { CommandContext } from './context.js'

export function backupCommand(ctx: CommandContext): Command {
  const backup = new Command('backup')
    .description(
      'Take a verified backup of the store, with a manifest (the master key is never in it)',
    )
    .option('--to <file>', 'where to write it (default $DSH_HOME/backups/dsh-<UTC time>.db)')
    .addHelpText(
      'after',
      `
A SQLite store is copied with SQLite's online backup API (safe while the daemon runs), checked
with integrity_check, and described in <file>.json: schema, row counts, SHA-256, audit head and
the id of the master key that opens its secrets. A PostgreSQL store is dumped with pg_dump
(custom format) from one snapshot. Files are mode 0600. Back up the master key apart.

Examples:
  dsh backup
  dsh backup --to /mnt/offsite/dsh-nightly.db --json
  dsh backup verify ~/.dsh/backups/dsh-20261129T023000Z.db`,
    )
    .action(
      ctx.action(async (app, opts: { to?: string }) => {
        const { takeBackup } = await import('../src/backup/backup.js')
        const r = await takeBackup(app, app.dbSpec, { to: opts.to })
        const m = r.manifest
        const rows = Object.values(m.rowCounts).reduce((a, b) => a + b, 0)
        app.out.result(r, () =>
          [
            `backup written: ${r.file}`,
            `manifest:       ${r.manifestFile}`,
            `schema ${m.schema.latest}, ${rows} rows in ${Object.keys(m.rowCounts).length} tables, audit head ${m.auditHead.seq}`,
            `sha256 ${m.sha256}`,
          ].join('\n'),
        )
        app.out.warn(
          `the master key (${m.masterKeyId}) is not in the backup: it is in ${r.masterKey}; back it up apart, or the backup's secrets cannot be read`,
        )
      }),
    )
  backup
    .command('verify <file>')
    .description(
      'Check a backup: MAC, name, SHA-256, form, integrity, schema objects, key, row counts and audit chain',
    )
    .option(
      '--master-key-file <path>',
      'the master key the backup was taken under, if rotated since',
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 the backup can be trusted; 8 naming what is wrong (forged: backup_manifest_forged, unsigned: backup_unsigned); 7 when the key it was made under is not held (give it with --master-key-file).',
    )
    .action(
      ctx.action(async (app, file: string, opts: { masterKeyFile?: string }) => {
        const { verifyBackup } = await import('../src/backup/verify.js')
        const r = await verifyBackup(app, file, {
          masterKeyFile: opts.masterKeyFile,
          serverUrl: app.dbSpec,
        })
        const { refusalKind } = await import('../src/backup/checks.js')
        const kind = r.ok ? 'ok' : refusalKind(r.code)
        app.rt.verdict?.(kind)
        app.out.result(r, () =>
          [
            `${r.ok ? 'backup OK' : r.signature === 'unsigned' ? 'backup UNSIGNED' : 'backup NOT OK'}: ${r.file}`,
            ...r.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`),
          ].join('\n'),
        )
        if (kind !== 'ok') {
          const { DshError } = await import('../src/core/errors.js')
          throw new DshError(
            kind,
            r.code ?? 'backup_invalid',
            `the backup cannot be trusted: ${r.problem}`,
            {
              hint: r.needsKeyId
                ? `give master key ${r.needsKeyId} with --master-key-file`
                : r.code === 'backup_key_unknown'
                  ? 'give the key file that holds that key with --master-key-file'
                  : r.code === 'backup_unsigned'
                    ? 'take a new (signed) backup; `dsh restore --accept-unsigned` restores this one, audited'
                    : 'take a new backup; keep this one for investigation',
            },
          )
        }
      }),
    )
  return backup
}

export function restoreCommand(ctx: CommandContext): Command {
  return new Command('restore')
    .description('Replace the store with a verified backup (the current store is kept aside)')
    .argument('<file>', 'a backup made by `dsh backup`')
    .option(
      '--master-key-file <path>',
      'the master key the backup was taken under, if rotated since',
    )
    .option(
      '--accept-unsigned',
      'restore a backup made before dsh signed them (no MAC); recorded in the audit log',
    )
    .addHelpText(
      'after',
      `
The backup is verified first; a bad one is refused (exit 8: forged, unsigned without
--accept-unsigned, changed, or holding objects dsh's migrations do not make; exit 7 when the key
it was made under is not held) and nothing changes. With a daemon
running on the store it is refused (exit 5). The current store and its -wal/-shm are moved to
<db>.pre-restore-<time> (dsh never deletes them). Asks on a terminal; --yes otherwise.

Examples:
  dsh restore ~/.dsh/backups/dsh-20261129T023000Z.db
  dsh restore old.db --master-key-file old-master.key --yes`,
    )
    .action(
      ctx.action(
        async (app, file: string, opts: { masterKeyFile?: string; acceptUnsigned?: boolean }) => {
          const { restoreBackup } = await import('../src/backup/restore.js')
          const r = await restoreBackup(app, app.dbSpec, file, {
            yes: app.globals.yes === true,
            masterKeyFile: opts.masterKeyFile,
            acceptUnsigned: opts.acceptUnsigned === true,
          })
          const m = r.manifest
          const rows = Object.values(m.rowCounts).reduce((a, b) => a + b, 0)
          app.out.result(r, () =>
            [
              `restored the backup taken ${m.createdAt} to ${r.restoredTo}`,
              `${rows} rows in ${Object.keys(m.rowCounts).length} tables; audit head ${m.auditHead.seq}`,
              r.movedAside ? `the store that was there is kept as ${r.movedAside}` : '',
              r.reencrypted
                ? `${r.reencrypted} secrets re-encrypted under the current master key`
                : '',
              r.unsigned ? 'the backup was unsigned: restored on --accept-unsigned (audited)' : '',
            ]
              .filter(Boolean)
              .join('\n'),
          )
        },
      ),
    )
}
