import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GATEWAY_FIELDS } from '../../src/core/gateways/fields.js'
import { openStore, type Store } from '../../src/store/connect.js'
import { decryptSecret, keyIdOf } from '../../src/vault/crypto.js'
import { loadKeyRing } from '../../src/vault/master-key.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess } from '../helpers/run-cli.js'

/*
 * No secret at rest: every secret dsh is given or makes is found nowhere in the store, not in
 * any table, not in the SQLite database file and not in its -wal while a writer still holds it
 * open (before any checkpoint). The planted-secret control shows the scan does see the WAL.
 */

// Given secrets, one per secret field of every gateway (checked against the field table below).
const GIVEN = {
  'mpesa.passkey': 'PASSKEYrt81mxv7wq0tnb3kd9fjs2lp5hc4ye6r',
  'mpesa.consumerKey': 'CONSUMERKEYb9s8d7f6g5h4j3k2',
  'mpesa.consumerSecret': 'CONSUMERSECRETq0o9i8u7y6t5',
  'mpesa-kcb.apiKey': 'KCBAPIKEYz7x6c5v4b3n2m1l0k9',
  'stripe.secretKey': 'sk_test_STRIPEKEYa4f8a2c9e1b7d',
  'stripe.webhookSecret': 'whsec_STRIPEWEBHOOKw2e3r4t5y6u7',
  'square.accessToken': 'EAAASQUAREACCESSj8h7g6f5d4s3a2',
  'square.webhookSignatureKey': 'SQUARESIGNATUREKEYp1o2i3u4y5t6',
} as const

const PLANTED = 'PLANTEDSECRETk2j3h4g5f6d7s8a9'

describe.each(DIALECTS)('no secret at rest on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('store scan', () => {
    const s = useStoreEnv(name)
    const run = async (...args: string[]) => {
      const r = await runInProcess(args, { env: s.env })
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      return r
    }
    /** Every secret this store holds in some form: given ones, bearer and path tokens. */
    const secrets: Record<string, string> = { ...GIVEN }
    // Held open for the whole file: this process's SQLite connection is shared and
    // reference-counted, so the CLI runs below write through it and the WAL is never closed.
    let holder: Store
    const dbFiles = () => ({
      db: readFileSync(s.db).toString('latin1'),
      wal: existsSync(`${s.db}-wal`) ? readFileSync(`${s.db}-wal`).toString('latin1') : '',
    })
    const found = (text: string) =>
      Object.entries(secrets)
        .filter(([, v]) => text.includes(v) || text.includes(v.slice(0, -4)))
        .map(([k]) => k)
    /** Every row of every table, as text. */
    async function dumpAll(): Promise<string> {
      const tables =
        name === 'sqlite'
          ? (
              await sql<{
                name: string
              }>`select name from sqlite_master where type = 'table'`.execute(holder.db)
            ).rows.map((r) => r.name)
          : (
              await sql<{
                table_name: string
              }>`select table_name from information_schema.tables where table_schema = current_schema()`.execute(
                holder.db,
              )
            ).rows.map((r) => r.table_name)
      expect(tables).toContain('settings')
      const out: unknown[] = []
      for (const t of tables)
        out.push((await sql`select * from ${sql.table(t)}`.execute(holder.db)).rows)
      return JSON.stringify(out, (_k, v) =>
        typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('latin1') : v,
      )
    }

    beforeAll(async () => {
      await run('init')
      holder = await openStore(s.db)
      // No automatic checkpoint: what the CLI writes stays in the WAL until the test says so.
      if (name === 'sqlite') await sql`pragma wal_autocheckpoint = 0`.execute(holder.db)
      const put = (field: string) => {
        const p = join(s.home, `${field}.txt`)
        writeFileSync(p, GIVEN[field as keyof typeof GIVEN])
        return p
      }
      await run('tenant', 'add', 'acme', '--name', 'Acme')
      await run(
        'branch',
        'add',
        'westlands',
        '--tenant',
        'acme',
        '--name',
        'W',
        '--currency',
        'KES',
      )
      await run(
        'gateway',
        'setup',
        'mpesa',
        '--branch',
        'westlands',
        '--account-type',
        'paybill',
        '--shortcode',
        '174379',
        '--paybill-number',
        '174379',
        '--passkey-file',
        put('mpesa.passkey'),
        '--consumer-key-file',
        put('mpesa.consumerKey'),
        '--consumer-secret-file',
        put('mpesa.consumerSecret'),
      )
      await run(
        'gateway',
        'setup',
        'mpesa-kcb',
        '--branch',
        'westlands',
        '--api-key-file',
        put('mpesa-kcb.apiKey'),
        '--external-origin',
        'biz-42',
      )
      await run(
        'gateway',
        'setup',
        'stripe',
        '--branch',
        'westlands',
        '--secret-key-file',
        put('stripe.secretKey'),
        '--webhook-secret-file',
        put('stripe.webhookSecret'),
      )
      await run(
        'gateway',
        'setup',
        'square',
        '--branch',
        'westlands',
        '--access-token-file',
        put('square.accessToken'),
        '--webhook-signature-key-file',
        put('square.webhookSignatureKey'),
        '--location-id',
        'LOC1',
        '--webhook-url',
        'https://pos.example.com/webhooks/square/westlands',
      )
      const bearer = await run('token', 'create', '--name', 'pos', '--role', 'operator', '--json')
      secrets['bearer token'] = bearer.json<{ token: string }>().token
      for (const type of ['mpesa', 'mpesa-kcb', 'bank']) {
        const r = await run('gateway', 'callback-url', type, '--branch', 'westlands', '--json')
        secrets[`${type} callback path token`] = r.json<{ url: string }>().url.split('/').pop()!
      }
    })
    afterAll(async () => {
      await holder?.close()
    })

    it('the list of known secrets covers every secret field of every gateway', () => {
      const fields = Object.entries(GATEWAY_FIELDS).flatMap(([type, specs]) =>
        specs.filter((f) => f.kind === 'secret').map((f) => `${type}.${f.name}`),
      )
      expect(Object.keys(GIVEN).sort()).toEqual(fields.sort())
      expect(secrets['bearer token']).toMatch(/^dsh_/)
      for (const t of ['mpesa', 'mpesa-kcb', 'bank'])
        expect(secrets[`${t} callback path token`]).toMatch(/^[0-9a-f]{32}$/)
    })

    it('no table holds any secret, in whole or in part', async () => {
      expect(found(await dumpAll())).toEqual([])
    })

    it.runIf(name === 'sqlite')(
      'neither the database file nor its -wal (still open, not checkpointed) holds a secret; a planted one is found',
      async () => {
        const before = dbFiles()
        // The writes above are still in the WAL: it is non-empty and holds the settings rows.
        expect(before.wal.length).toBeGreaterThan(0)
        expect(before.wal).toContain('callback_token_hash:')
        expect(found(before.wal)).toEqual([])
        expect(found(before.db)).toEqual([])
        // Control: a secret written as plain text now is found in the WAL, not yet in the file.
        secrets['planted'] = PLANTED
        try {
          await sql`insert into settings (key, value, updated_at) values ('planted', ${PLANTED}, 'now')`.execute(
            holder.db,
          )
          const planted = dbFiles()
          expect(found(planted.wal)).toEqual(['planted'])
          expect(found(planted.db)).toEqual([])
          await sql`delete from settings where key = 'planted'`.execute(holder.db)
        } finally {
          delete secrets['planted']
        }
        // After a checkpoint the file holds the pages the WAL held: still no secret.
        await sql`pragma wal_checkpoint(TRUNCATE)`.execute(holder.db)
        const after = dbFiles()
        expect(after.db).toContain('callback_token_hash:')
        expect(found(after.db)).toEqual([])
      },
    )

    it('after dsh keys rotate every stored secret opens with the new key and none with the old, the audit key included', async () => {
      const oldRing = loadKeyRing(s.home, {})
      const r = await run('keys', 'rotate', '--json')
      const body = r.json<{ toKeyId: string; secretsReencrypted: number }>()
      const newRing = loadKeyRing(s.home, {})
      expect(newRing.primary.id).toBe(body.toKeyId)
      expect(newRing.keys.map((k) => k.id)).toEqual([body.toKeyId])
      const sealed: { context: string; envelope: string }[] = []
      for (const row of await holder.db
        .selectFrom('gateway_configs')
        .select(['id', 'secrets'])
        .execute())
        for (const [field, envelope] of Object.entries(
          JSON.parse(row.secrets) as Record<string, string>,
        ))
          sealed.push({ context: `gateway:${row.id}:${field}`, envelope })
      const settings = await holder.db.selectFrom('settings').select(['key', 'value']).execute()
      for (const row of settings)
        if (
          row.key === 'audit_key' ||
          row.key === 'callback_lookup_key' ||
          row.key.startsWith('callback_token:')
        )
          sealed.push({ context: `settings:${row.key}`, envelope: row.value })
      // 8 gateway secrets, the audit key, the look-up key and 3 path tokens.
      expect(sealed).toHaveLength(13)
      expect(body.secretsReencrypted).toBe(13)
      expect(sealed.map((x) => x.context)).toContain('settings:audit_key')
      const opened: string[] = []
      for (const x of sealed) {
        expect(keyIdOf(x.envelope), x.context).toBe(body.toKeyId)
        opened.push(decryptSecret(newRing, x.envelope, x.context))
        expect(() => decryptSecret(oldRing, x.envelope, x.context), x.context).toThrow(/master key/)
      }
      // The given secrets and the path tokens come back exactly.
      for (const [k, v] of Object.entries(secrets))
        if (k !== 'bearer token') expect(opened, k).toContain(v)
      // Every other settings value is plain data, not an envelope left behind.
      for (const row of settings)
        if (!sealed.some((x) => x.context === `settings:${row.key}`))
          expect(row.value, row.key).not.toMatch(/^v1\./)
      // And the store still holds no secret.
      expect(found(await dumpAll())).toEqual([])
      expect((await runInProcess(['audit', 'verify'], { env: s.env })).code).toBe(0)
    })
  })
})
