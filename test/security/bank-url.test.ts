import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { dsh } from '../helpers/cli.js'
import { tempHome } from '../helpers/temp-home.js'

/** Issue 23, item 4: a bank API URL with user information is refused and never shown in clear. */
describe('bank API URLs', () => {
  it('user:password@ is refused (exit 3), never echoed or audited; a stored one is shown masked', async () => {
    const { home, cleanup } = tempHome()
    try {
      const env = { DSH_HOME: home }
      const key = join(home, 'bk')
      const secret = join(home, 'bw')
      writeFileSync(key, 'bank-api-key-0123456789')
      writeFileSync(secret, 'bank-webhook-secret-0123456789')
      for (const args of [
        ['init'],
        ['tenant', 'add', 'acme', '--name', 'Acme'],
        ['branch', 'add', 'westlands', '--tenant', 'acme', '--name', 'W', '--currency', 'KES'],
      ])
        expect((await dsh(args, { env })).code).toBe(0)
      const account = (url: string) => [
        'branch',
        'settlement-account',
        'westlands',
        '--account-name',
        'Westlands Ltd',
        '--account-number',
        '1234567890',
        '--bank-name',
        'KCB',
        '--bank-code',
        '01',
        '--transfer',
        'http',
        '--bank-api-url',
        url,
        '--bank-api-key-file',
        key,
        '--bank-webhook-secret-file',
        secret,
      ]
      for (const url of [
        'https://bankuser:S3cret@bank.example/',
        'https://S3cret@bank.example/',
        'http://bankuser:S3cret@127.0.0.1:9/',
      ]) {
        const r = await dsh(account(url), { env })
        expect(r.code, r.stderr).toBe(3)
        expect(r.stderr).toContain('must not contain user information (user:password@)')
        expect(r.stdout + r.stderr).not.toContain('S3cret')
      }
      const json = await dsh([...account('https://bankuser:S3cret@bank.example/'), '--json'], {
        env,
      })
      expect(json.code).toBe(3)
      expect(JSON.parse(json.stderr)).toEqual({
        error: {
          code: 'invalid_url',
          message:
            '--bank-api-url https://***:***@bank.example/ must not contain user information (user:password@)',
          hint: 'give the API key with --bank-api-key-file, never in the URL',
        },
      })
      // A good URL with a secret-named query parameter: stored, shown and audited masked.
      const ok = await dsh(account('https://bank.example/api?token=S3cret&v=2'), { env })
      expect(ok.code, ok.stderr).toBe(0)
      expect(ok.stdout).toContain('https://bank.example/api?token=***&v=2')
      // As a store written before this check would hold it.
      const db = new Database(join(home, 'dsh.db'))
      db.prepare('UPDATE settlement_accounts SET bank_api_url = ?').run(
        'https://bankuser:S3cret@bank.example',
      )
      db.close()
      const shown = await dsh(['branch', 'settlement-account', 'westlands'], { env })
      expect(shown.code, shown.stderr).toBe(0)
      expect(shown.stdout).toContain('https://***:***@bank.example/')
      const all = [
        shown,
        await dsh(['branch', 'settlement-account', 'westlands', '--json'], { env }),
        await dsh(['audit', 'list', '--json'], { env }),
      ]
      for (const r of all) expect(r.stdout + r.stderr).not.toContain('S3cret')
    } finally {
      cleanup()
    }
  })
})
