import { describe, expect, it } from 'vitest'
import { hasUserPassword, maskUrl, maskUrlsIn } from '../../src/core/url-mask.js'
import { dsh } from '../helpers/cli.js'
import { freshPgDatabase, pgAvailable } from '../helpers/pg.js'
import { tempHome } from '../helpers/temp-home.js'

/** Issue 10, item 5: no password ever printed. */
describe('maskUrl: the one function for every URL dsh prints, logs or audits', () => {
  it.each([
    ['postgres://u:hunter2@h:5432/db', 'postgres://u:***@h:5432/db'],
    ['postgres://u@h/db?password=hunter2', 'postgres://u@h/db?password=***'],
    [
      'postgres://u@h/db?sslmode=require&sslpassword=hunter2',
      'postgres://u@h/db?sslmode=require&sslpassword=***',
    ],
    ['postgres://u@h/db?PASSWORD=hunter2&x=1', 'postgres://u@h/db?PASSWORD=***&x=1'],
    ['postgress://u:hunter2@h/db', 'postgress://u:***@h/db'],
    ['mysql://u:hunter2@h/db', 'mysql://u:***@h/db'],
    ['postgres://u:hun%zzter2@h:99999/db', 'postgres://u:***@h:99999/db'],
    // What pg connects to: host ss; the rest of what looks like the password is in the path.
    ['postgres://u:p@ss/w@rd@h/db', 'postgres://u:***@ss/***'],
    ['postgres://u:hunter2@h/db?x=a@b', 'postgres://u:***@h/db?x=a@b'],
    ['postgres://u:hun?ter2@h/db', 'postgres://u:***@h/db'],
    ['host=h user=u password=hunter2 dbname=x', 'host=h user=u password=*** dbname=x'],
    ["host=h password='hunter 2' dbname=x", 'host=h password=*** dbname=x'],
    ['https://api.safaricom.co.ke', 'https://api.safaricom.co.ke'],
    ['/home/u/.dsh/dsh.db', '/home/u/.dsh/dsh.db'],
    ['postgres://u@h/db', 'postgres://u@h/db'],
    // Issue 23, item 4: an `@` in the fragment or query is no user information: shown as is.
    ['http://127.0.0.1:18201#@127.0.0.1:18203', 'http://127.0.0.1:18201#@127.0.0.1:18203'],
    ['http://127.0.0.1:18201?x=@127.0.0.1:18203', 'http://127.0.0.1:18201?x=@127.0.0.1:18203'],
    ['https://h.example/a?next=u:p@evil.example', 'https://h.example/a?next=u:p@evil.example'],
    // An http(s) user information is only ever a credential: all of it masked.
    ['https://bankuser:S3cret@bank.example/', 'https://***:***@bank.example/'],
    ['https://sk_live_hunter2@api.example/v1', 'https://***@api.example/v1'],
    ['https://u:hunter2@h.example#@other.example', 'https://***:***@h.example/#@other.example'],
    // Query secrets by the audit log's names; other parameters as written.
    [
      'https://hooks.example/alert?channel=ops&token=hunter2&api_key=hunter3',
      'https://hooks.example/alert?channel=ops&token=***&api_key=***',
    ],
    ['https://h.example/?Client-Secret=hunter2#x', 'https://h.example/?Client-Secret=***#x'],
  ])('%s → %s', (input, masked) => {
    expect(maskUrl(input)).toBe(masked)
    expect(maskUrl(input)).not.toMatch(/hunter|p@ss|S3cret/)
  })

  it('inside log lines: the fragment trick is left alone, real user information masked', () => {
    expect(maskUrlsIn('{"url":"http://127.0.0.1:18201#@127.0.0.1:18203"}')).toBe(
      '{"url":"http://127.0.0.1:18201#@127.0.0.1:18203"}',
    )
    expect(maskUrlsIn('to https://u:hunter2@h.example/x?token=t0k3n then')).toBe(
      'to https://***:***@h.example/x?token=*** then',
    )
  })

  it('tells a URL with a user-info password', () => {
    expect(hasUserPassword('https://u:pw@h.example')).toBe(true)
    expect(hasUserPassword('https://u@h.example')).toBe(false)
    expect(hasUserPassword('https://h.example/?password=x')).toBe(false)
  })
})

describe('store URLs on the command line', () => {
  it('a mistyped scheme, a bad port or % escape: exit 7 with the expected form, masked', async () => {
    const { home, cleanup } = tempHome()
    try {
      for (const db of [
        'postgress://u:hunter2@127.0.0.1/x',
        'mysql://u:hunter2@127.0.0.1/x',
        'postgres://u:hunter2@127.0.0.1:99999/x',
        'postgres://u:hun%zzter2@127.0.0.1/x',
        'postgres://u@127.0.0.1:1/x?password=hunter2',
      ]) {
        for (const args of [['init'], ['migrate', 'status', '--json']]) {
          const r = await dsh([...args, '--db', db], { env: { DSH_HOME: home } })
          expect(r.code, `${db} ${args}: ${r.stderr}`).toBe(7)
          expect(r.stdout + r.stderr).not.toContain('hunter2')
          expect(r.stderr).not.toContain('internal error')
          if (!db.endsWith('password=hunter2'))
            expect(r.stderr).toContain('postgres://user:password@host:5432/database')
        }
      }
    } finally {
      cleanup()
    }
  })

  it.runIf(pgAvailable())(
    'init and migrate status on PostgreSQL print the URL masked',
    async () => {
      const { home, cleanup } = tempHome()
      const fresh = await freshPgDatabase()
      try {
        const url = new URL(fresh.url)
        url.password = 'hunter2'
        url.search = '?sslmode=disable&sslpassword=hunter3'
        for (const args of [['init'], ['migrate', 'status', '--json'], ['init', '--json']]) {
          const r = await dsh([...args, '--db', url.toString()], { env: { DSH_HOME: home } })
          expect(r.code, r.stderr).toBe(0)
          expect(r.stdout + r.stderr).not.toMatch(/hunter[23]/)
        }
        const s = await dsh(['migrate', 'status', '--json', '--db', url.toString()], {
          env: { DSH_HOME: home },
        })
        expect(s.json<{ store: string }>().store).toBe(maskUrl(url.toString()))
        expect(s.json<{ store: string }>().store).toContain(':***@')
      } finally {
        await fresh.drop()
        cleanup()
      }
    },
  )
})

describe('public URLs', () => {
  it('a public URL with user:password@ is refused (exit 3), the password never echoed', async () => {
    const { home, cleanup } = tempHome()
    try {
      expect((await dsh(['init'], { env: { DSH_HOME: home } })).code).toBe(0)
      const r = await dsh(['config', 'set', 'public-url', 'https://u:hunter2@pay.example.co.ke'], {
        env: { DSH_HOME: home },
      })
      expect(r.code).toBe(3)
      expect(r.stderr).toContain('must not contain user information')
      expect(r.stdout + r.stderr).not.toContain('hunter2')
      const ok = await dsh(['config', 'set', 'public-url', 'https://pay.example.co.ke'], {
        env: { DSH_HOME: home },
      })
      expect(ok.code, ok.stderr).toBe(0)
    } finally {
      cleanup()
    }
  })
})

describe('maskUrlsIn: URLs inside log lines and driver messages', () => {
  it('masks every URL in a text and every password= parameter', () => {
    expect(
      maskUrlsIn(
        '{"msg":"x","store":"postgres://u:hunter2@h/db","detail":"see https://a:b@c.example/x and password=hunter3"}',
      ),
    ).toBe(
      '{"msg":"x","store":"postgres://u:***@h/db","detail":"see https://***:***@c.example/x and password=***"}',
    )
  })
})

describe('masking is linear on any input', () => {
  it('200,000 characters of scheme letters, colons or @ take milliseconds, not minutes', () => {
    for (const text of [
      'x'.repeat(200_000),
      'a:'.repeat(100_000),
      `http://${'@'.repeat(100_000)}`,
      `http://${'a:'.repeat(50_000)}@`,
      'password='.repeat(20_000),
    ]) {
      const started = performance.now()
      maskUrlsIn(text)
      maskUrl(text)
      expect(performance.now() - started, text.slice(0, 20)).toBeLessThan(500)
    }
  })
})
