import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/connect.js'
import { decryptSecret } from '../../src/vault/crypto.js'
import { loadKeyRing } from '../../src/vault/master-key.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess } from '../helpers/run-cli.js'
import { tamperEnvelope } from '../helpers/temp-home.js'

// Distinctive values, so a leak anywhere is found by a plain substring search.
const SECRETS = {
  passkey: 'PASSKEYzq81mxv7wq0tnb3kd9fjs2lp5hc4ye6r',
  consumerKey: 'CONSUMERKEYa9s8d7f6g5h4j3k2',
  consumerSecret: 'CONSUMERSECRETp0o9i8u7y6t5',
  secretKey: 'sk_test_STRIPESECRET4f8a2c9e1b7d',
  webhookSecret: 'whsec_WEBHOOKSECRETq2w3e4r5t6y7',
  bankApiKey: 'BANKAPIKEYm3n4b5v6c7x8z9',
  bankWebhookSecret: 'BANKWEBHOOKSECRETl1k2j3h4g5',
}

function leaks(text: string): string[] {
  return Object.entries(SECRETS)
    .filter(([, v]) => text.includes(v) || text.includes(v.slice(0, -4)))
    .map(([k]) => k)
}

describe.each(DIALECTS)('vault and audit on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('security', () => {
    const s = useStoreEnv(name)
    const run = (...args: string[]) => runInProcess(args, { env: s.env })
    const files = () => {
      const put = (n: string, v: string) => {
        const p = join(s.home, n)
        writeFileSync(p, v)
        return p
      }
      return {
        pk: put('pk.txt', SECRETS.passkey),
        ck: put('ck.txt', SECRETS.consumerKey),
        cs: put('cs.txt', SECRETS.consumerSecret),
        sk: put('sk.txt', SECRETS.secretKey),
        wh: put('wh.txt', SECRETS.webhookSecret),
        bk: put('bk.txt', SECRETS.bankApiKey),
        bw: put('bw.txt', SECRETS.bankWebhookSecret),
      }
    }
    let output = ''
    const record = async (...args: string[]) => {
      const r = await run(...args)
      output += `${r.stdout}\n${r.stderr}\n`
      return r
    }

    it('configures known secrets and never shows them in any output, the audit log or the store', async () => {
      const f = files()
      await record('init')
      await record('tenant', 'add', 'acme', '--name', 'Acme')
      await record(
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
      const m = await record(
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
        f.pk,
        '--consumer-key-file',
        f.ck,
        '--consumer-secret-file',
        f.cs,
      )
      expect(m.code, m.stderr).toBe(0)
      // A secret given as a flag value works (with a warning) and must still not be echoed.
      const st = await record(
        'gateway',
        'setup',
        'stripe',
        '--tenant',
        'acme',
        '--secret-key',
        SECRETS.secretKey,
        '--webhook-secret-file',
        f.wh,
        '--json',
      )
      expect(st.code, st.stderr).toBe(0)
      const bank = await record(
        'branch',
        'settlement-account',
        'westlands',
        '--account-name',
        'W Ltd',
        '--account-number',
        '1234567890',
        '--bank-name',
        'KCB',
        '--bank-code',
        '01',
        '--transfer',
        'http',
        '--bank-api-url',
        'https://bank.example.com/api',
        '--bank-api-key-file',
        f.bk,
        '--bank-webhook-secret-file',
        f.bw,
        '--json',
      )
      expect(bank.code, bank.stderr).toBe(0)
      for (const args of [
        ['branch', 'settlement-account', 'westlands'],
        ['branch', 'settlement-account', 'westlands', '--json'],
        ['branch', 'settlement-account', 'westlands', '--min-amount', '10', '--verbose'],
        [
          'branch',
          'settlement-account',
          'westlands',
          '--bank-api-url',
          'http://bank.example.com',
          '--bank-api-key-file',
          f.bk,
          '--bank-webhook-secret-file',
          f.bw,
          '--verbose',
        ],
        ['gateway', 'list'],
        ['gateway', 'list', '--json'],
        ['gateway', 'show', 'mpesa', '--branch', 'westlands'],
        ['gateway', 'show', 'mpesa', '--branch', 'westlands', '--json'],
        ['gateway', 'show', 'stripe', '--branch', 'westlands', '--json'],
        ['audit', 'list', '--json'],
        ['audit', 'list'],
        ['audit', 'verify'],
        ['gateway', 'migrate', '--tenant', 'acme'],
        // errors that carry the request
        [
          'gateway',
          'setup',
          'mpesa',
          '--branch',
          'westlands',
          '--shortcode',
          'bad',
          '--passkey',
          SECRETS.passkey,
        ],
        [
          'gateway',
          'setup',
          'mpesa',
          '--branch',
          'westlands',
          '--passkey',
          SECRETS.passkey,
          '--verbose',
        ],
        [
          'gateway',
          'setup',
          'stripe',
          '--branch',
          'westlands',
          '--secret-key',
          `${SECRETS.secretKey} x`,
          '--json',
        ],
        ['keys', 'rotate'],
      ])
        await record(...args)
      expect(leaks(output)).toEqual([])
      const rows = (await run('audit', 'list', '--json')).stdout
      expect(leaks(rows)).toEqual([])
      expect(rows).toContain('gateway.create')

      const store = await openStore(s.db)
      try {
        const dump = JSON.stringify(
          [
            await store.db.selectFrom('gateway_configs').selectAll().execute(),
            await store.db.selectFrom('settlement_accounts').selectAll().execute(),
            await store.db.selectFrom('audit_log').selectAll().execute(),
            await store.db.selectFrom('settings').selectAll().execute(),
          ],
          (_k, v) => (typeof v === 'bigint' ? v.toString() : v),
        )
        expect(leaks(dump)).toEqual([])
        if (name === 'sqlite') await sql`pragma wal_checkpoint(TRUNCATE)`.execute(store.db)
      } finally {
        await store.close()
      }
      if (name === 'sqlite') {
        for (const file of readdirSync(s.home).filter((n) => n.startsWith('dsh.db'))) {
          expect(leaks(readFileSync(join(s.home, file)).toString('latin1')), file).toEqual([])
        }
      }
      for (const file of readdirSync(join(s.home, 'backups'))) {
        expect(leaks(readFileSync(join(s.home, 'backups', file), 'utf8'))).toEqual([])
      }
    })

    it('rotation keeps every secret readable and the chain valid; the old key opens nothing', async () => {
      const oldRing = loadKeyRing(s.home, {})
      const r = await run('keys', 'rotate', '--json')
      expect(r.code, r.stderr).toBe(0)
      const body = r.json<{ fromKeyId: string; toKeyId: string; secretsReencrypted: number }>()
      expect(body.fromKeyId).toBe(oldRing.primary.id)
      expect(body.secretsReencrypted).toBeGreaterThanOrEqual(6)
      const show = (await run('gateway', 'show', 'mpesa', '--branch', 'westlands', '--json')).json<{
        secrets: Record<string, string>
      }>()
      expect(show.secrets['passkey']).toBe(`••••••••${SECRETS.passkey.slice(-4)}`)
      expect((await run('audit', 'verify')).code).toBe(0)
      const store = await openStore(s.db)
      try {
        const rows = await store.db
          .selectFrom('gateway_configs')
          .select(['id', 'secrets'])
          .execute()
        for (const row of rows) {
          for (const [field, envelope] of Object.entries(
            JSON.parse(row.secrets) as Record<string, string>,
          )) {
            expect(envelope.split('.')[1]).toBe(body.toKeyId)
            expect(() => decryptSecret(oldRing, envelope, `gateway:${row.id}:${field}`)).toThrow(
              /master key/,
            )
          }
        }
        // the bank API key and webhook secret of http settlement accounts too
        const accounts = await store.db
          .selectFrom('settlement_accounts')
          .select(['id', 'bank_secrets'])
          .execute()
        const bank = accounts.flatMap((a) =>
          Object.entries(JSON.parse(a.bank_secrets) as Record<string, string>).map(
            ([field, envelope]) => ({ context: `settlement-account:${a.id}:${field}`, envelope }),
          ),
        )
        expect(bank).toHaveLength(2)
        for (const { context, envelope } of bank) {
          expect(envelope.split('.')[1]).toBe(body.toKeyId)
          expect(() => decryptSecret(oldRing, envelope, context)).toThrow(/master key/)
        }
      } finally {
        await store.close()
      }
      const shown = (await run('branch', 'settlement-account', 'westlands', '--json')).json<
        { bankApiKey: string; bankWebhookSecret: string }[]
      >()
      expect(shown[0]).toMatchObject({
        bankApiKey: `••••••••${SECRETS.bankApiKey.slice(-4)}`,
        bankWebhookSecret: `••••••••${SECRETS.bankWebhookSecret.slice(-4)}`,
      })
      expect(readdirSync(s.home).filter((n) => n.startsWith('master.key'))).toEqual(['master.key'])
    })

    it('an interrupted rotation (next key left behind) is resumed with that same key', async () => {
      const next = randomBytes(32).toString('base64')
      writeFileSync(join(s.home, 'master.key.next'), `${next}\n`, { mode: 0o600 })
      // While both files exist everything still opens.
      expect((await run('gateway', 'show', 'mpesa', '--branch', 'westlands')).code).toBe(0)
      const r = await run('keys', 'rotate', '--json')
      expect(r.code, r.stderr).toBe(0)
      expect(r.json<{ resumed: boolean }>().resumed).toBe(true)
      expect(readFileSync(join(s.home, 'master.key'), 'utf8').trim()).toBe(next)
      expect((await run('audit', 'verify')).code).toBe(0)
    })

    it('under DSH_MASTER_KEY, rotation takes the new key from DSH_NEW_MASTER_KEY', async () => {
      const current = readFileSync(join(s.home, 'master.key'), 'utf8').trim()
      const fresh = randomBytes(32).toString('base64')
      const envRun = (key: string, extra: Record<string, string> = {}, ...args: string[]) =>
        runInProcess(args, {
          env: { ...s.env, DSH_HOME: join(s.home, 'nokeyhere'), DSH_MASTER_KEY: key, ...extra },
        })
      expect((await envRun(current, {}, 'keys', 'rotate')).code).toBe(7)
      const r = await envRun(current, { DSH_NEW_MASTER_KEY: fresh }, 'keys', 'rotate', '--json')
      expect(r.code, r.stderr).toBe(0)
      expect(r.json<{ nextStep: string }>().nextStep).toContain('DSH_MASTER_KEY')
      expect(
        (await envRun(fresh, {}, 'gateway', 'show', 'mpesa', '--branch', 'westlands')).code,
      ).toBe(0)
      expect(
        (await envRun(current, {}, 'gateway', 'show', 'mpesa', '--branch', 'westlands')).code,
      ).toBe(7)
      writeFileSync(join(s.home, 'master.key'), `${fresh}\n`, { mode: 0o600 })
    })

    it('a wrong or missing master key is exit 7 with a hint, never garbage', async () => {
      const keyFile = join(s.home, 'master.key')
      renameSync(keyFile, `${keyFile}.saved`)
      try {
        writeFileSync(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 })
        const wrong = await run('gateway', 'show', 'mpesa', '--branch', 'westlands', '--json')
        expect(wrong.code).toBe(7)
        expect(JSON.parse(wrong.stderr).error.code).toBe('wrong_master_key')
        rmSync(keyFile)
        const missing = await run('gateway', 'show', 'mpesa', '--branch', 'westlands')
        expect(missing.code).toBe(7)
        expect(missing.stderr).toMatch(/dsh init|DSH_MASTER_KEY/)
        const viaEnv = await runInProcess(['gateway', 'show', 'mpesa', '--branch', 'westlands'], {
          env: { ...s.env, DSH_MASTER_KEY: readFileSync(`${keyFile}.saved`, 'utf8').trim() },
        })
        expect(viaEnv.code, viaEnv.stderr).toBe(0)
      } finally {
        rmSync(keyFile, { force: true })
        renameSync(`${keyFile}.saved`, keyFile)
      }
    })

    it('a changed ciphertext fails authentication with a clear error', async () => {
      const store = await openStore(s.db)
      try {
        const row = await store.db
          .selectFrom('gateway_configs')
          .select(['id', 'secrets'])
          .where('type', '=', 'stripe')
          .where('branch_id', 'is', null)
          .executeTakeFirstOrThrow()
        const secrets = JSON.parse(row.secrets) as Record<string, string>
        const env = secrets['secretKey'] ?? ''
        secrets['secretKey'] = tamperEnvelope(env)
        await store.db
          .updateTable('gateway_configs')
          .set({ secrets: JSON.stringify(secrets) })
          .where('id', '=', row.id)
          .execute()
        const r = await run('gateway', 'show', 'stripe', '--tenant', 'acme', '--json')
        expect(r.code).toBe(7)
        expect(JSON.parse(r.stderr).error.code).toBe('secret_tampered')
        secrets['secretKey'] = env
        await store.db
          .updateTable('gateway_configs')
          .set({ secrets: JSON.stringify(secrets) })
          .where('id', '=', row.id)
          .execute()
      } finally {
        await store.close()
      }
    })

    it('audit verify detects an UPDATE and a DELETE done with plain SQL, naming the first broken row', async () => {
      expect((await run('audit', 'verify')).code).toBe(0)
      const store = await openStore(s.db)
      try {
        await sql`update audit_log set actor = 'mallory' where seq = 3`.execute(store.db)
        const edited = await run('audit', 'verify', '--json')
        expect(edited.code).toBe(8)
        expect(edited.json<{ ok: boolean; firstBrokenSeq: number }>()).toMatchObject({
          ok: false,
          firstBrokenSeq: 3,
        })
        expect(JSON.parse(edited.stderr).error.message).toContain('row 3')
        await sql`update audit_log set actor = 'tester' where seq = 3`.execute(store.db)
        expect((await run('audit', 'verify')).code).toBe(0)

        await sql`delete from audit_log where seq = 5`.execute(store.db)
        const deleted = await run('audit', 'verify', '--json')
        expect(deleted.code).toBe(8)
        expect(deleted.json<{ firstBrokenSeq: number }>().firstBrokenSeq).toBe(5)

        await sql`update audit_log set actor = 'mallory' where seq = 2`.execute(store.db)
        const both = await run('audit', 'verify')
        expect(both.code).toBe(8)
        expect(both.stderr).toContain('row 2')
        expect(both.stderr).not.toMatch(/\n\s+at /)

        const head = await store.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()
        await sql`delete from audit_log where seq = ${Number(head.seq)}`.execute(store.db)
        expect((await run('audit', 'verify')).code).toBe(8)
      } finally {
        await store.close()
      }
    })
  })
})
