/// <reference lib="dom" />
// (The callbacks given to page.evaluate run in the browser: they use its DOM types.)
import { copyFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumPath } from '../../bin/test-tools.mjs'
import { openStore } from '../../src/store/connect.js'
import { freePort, type RunningDaemon, startDaemon, waitFor } from '../daemon/helpers.js'
import { dsh } from '../helpers/cli.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess } from '../helpers/run-cli.js'

/**
 * The branch dashboard in a real browser: Debian's chromium driven by playwright-core (which never
 * downloads a browser). One browser for the file; one page per dialect, reused across the steps.
 */
// The browser bin/test-tools.mjs checked before the run (npm test's pretest): DSH_CHROMIUM, else
// chromium, chromium-browser or google-chrome on the PATH.
const CHROMIUM = chromiumPath()
const EVIL = '<img src=x onerror=alert(1)>'
const ARTEFACTS = mkdtempSync(join(tmpdir(), 'dsh-dashboard-'))

let browser: Browser

beforeAll(async () => {
  if (!CHROMIUM)
    throw new Error(
      'no chromium: run `node bin/test-tools.mjs` (npm test does), or set DSH_CHROMIUM',
    )
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  })
}, 60_000)

afterAll(async () => {
  await browser?.close()
  console.log(`dashboard screenshots in ${ARTEFACTS}`)
})

interface Report {
  count: number
  succeededCount: number
  failedCount: number
  cancelledCount: number
  openCount: number
  successRate: string | null
  averageProcessingSeconds: number | null
  converted: { amount: string } | null
  totals: { currency: string; count: number; amount: string; average: string }[]
  byMethod: { method: string; currency: string; count: number; amount: string; average: string }[]
  byGateway: { gateway: string; currency: string; count: number; amount: string; average: string }[]
  hourly: { hour: string; count: number; succeededCount: number }[] | null
  settlement: {
    pending: { currency: string; count: number; amount: string }[]
    pendingDeposit: { currency: string; count: number; amount: string }[]
  }
  alerts: {
    severity: string
    code: string
    message: string
    value: string | null
    threshold: string | null
    since: string
  }[]
  recent: {
    id: string
    createdAt: string
    method: string
    gateway: string | null
    status: string
    currency: string
    amount: string
  }[]
}

/** The figures as the page shows them, read from its DOM. */
function readPage(page: Page) {
  return page.evaluate(() => {
    const dd = (f: string) => document.querySelector(`dd[data-field="${f}"]`)!
    const rows = (id: string) =>
      [...document.querySelectorAll(`#${id} tbody tr:not(.empty)`)].map((tr) =>
        [...tr.querySelectorAll('[data-field]')].map((c) => {
          const el = c as HTMLElement
          const time = el.querySelector('time')
          return time ? time.dateTime : (el.dataset['value'] ?? el.textContent ?? '')
        }),
      )
    return {
      count: dd('count').textContent,
      succeededCount: dd('succeededCount').textContent,
      failedCount: dd('failedCount').textContent,
      cancelledCount: dd('cancelledCount').textContent,
      openCount: dd('openCount').textContent,
      successRate: (dd('successRate') as HTMLElement).dataset['value'],
      averageProcessingSeconds: (dd('averageProcessingSeconds') as HTMLElement).dataset['value'],
      converted: (dd('converted') as HTMLElement).dataset['value'],
      totals: rows('totals'),
      byMethod: rows('by-method'),
      byGateway: rows('by-gateway'),
      hourly: rows('hourly'),
      pending: rows('pending'),
      pendingDeposit: rows('pending-deposit'),
      alerts: rows('alerts'),
      recent: rows('recent'),
    }
  })
}

/** What the page must show for a report, in the same shape. */
function expected(r: Report) {
  const dash = (v: string | null) => v ?? '–'
  return {
    count: String(r.count),
    succeededCount: String(r.succeededCount),
    failedCount: String(r.failedCount),
    cancelledCount: String(r.cancelledCount),
    openCount: String(r.openCount),
    successRate: r.successRate ?? '',
    averageProcessingSeconds:
      r.averageProcessingSeconds === null ? '' : String(r.averageProcessingSeconds),
    converted: r.converted?.amount ?? '',
    totals: r.totals.map((t) => [t.currency, String(t.count), t.amount, t.average]),
    byMethod: r.byMethod.map((t) => [t.method, t.currency, String(t.count), t.amount, t.average]),
    byGateway: r.byGateway.map((t) => [
      t.gateway,
      t.currency,
      String(t.count),
      t.amount,
      t.average,
    ]),
    hourly: (r.hourly ?? []).map((h) => [h.hour, String(h.count), String(h.succeededCount)]),
    pending: r.settlement.pending.map((p) => [p.currency, String(p.count), p.amount]),
    pendingDeposit: r.settlement.pendingDeposit.map((p) => [p.currency, String(p.count), p.amount]),
    alerts: r.alerts.map((a) => [
      a.severity,
      a.code,
      a.message,
      dash(a.value),
      dash(a.threshold),
      a.since,
    ]),
    recent: r.recent.map((p) => [
      p.createdAt,
      p.id,
      p.method,
      dash(p.gateway),
      p.status,
      p.currency,
      p.amount,
    ]),
  }
}

describe.each(DIALECTS)('the branch dashboard on $name', ({ name, enabled }) => {
  const env = useStoreEnv(name)
  const cli = (...args: string[]) => dsh(args, { env: env.env, timeoutMs: 30_000 })
  const tokens: Record<string, string> = {}
  let daemon: RunningDaemon
  let port: number
  let context: BrowserContext
  let page: Page
  const requests: string[] = []
  const responses: { url: string; csp: string | undefined; nosniff: string | undefined }[] = []
  const dialogs: string[] = []
  let globexCookie = ''

  const report = async () => {
    const r = await cli('report', '--branch', 'westlands', '--json')
    expect(r.code, r.stderr).toBe(0)
    return r.json<Report>()
  }
  const pay = async (amount: string) => {
    const r = await cli(
      'pay',
      ...['--branch', 'westlands', '--amount', amount, '--currency', 'KES', '--method', 'cash'],
      '--json',
    )
    expect(r.code, r.stderr).toBe(0)
    return r.json<{ id: string }>().id
  }
  /** The page catches up with `dsh report` (a refresh may still be on its way): then equal. */
  // The daemon re-evaluates alerts every minute (no event): when that lands between the page's
  // load and `dsh report`, the page is asked to refresh and both are read again.
  const settled = async (p: Page) => {
    let want = expected(await report())
    for (let i = 0; i < 3; i++) {
      const same = async () => JSON.stringify(await readPage(p)) === JSON.stringify(want)
      if (await waitFor(same, 1_000, 'the page to show the report', 50).catch(() => false)) return
      const loaded = await p.evaluate(() => document.body.dataset['loaded'])
      await p.evaluate(() => document.getElementById('date')!.dispatchEvent(new Event('change')))
      await p.waitForFunction((l) => document.body.dataset['loaded'] !== l, loaded)
      want = expected(await report())
    }
    expect(await readPage(p)).toEqual(want)
  }
  const shown = (p: Page, id: string, timeout: number) =>
    p.waitForFunction(
      (pid) =>
        [...document.querySelectorAll('#recent th[data-field="id"]')].some(
          (e) => e.textContent === pid,
        ),
      id,
      { timeout, polling: 50 },
    )

  beforeAll(async () => {
    if (!enabled) return
    for (const args of [
      ['init'],
      ['tenant', 'add', 'acme', '--name', 'Acme', '--currency', 'KES'],
      ['branch', 'add', 'westlands', '--tenant', 'acme', '--name', EVIL, '--currency', 'KES'],
      ['branch', 'add', 'karen', '--tenant', 'acme', '--name', 'Karen', '--currency', 'KES'],
      ['tenant', 'add', 'globex', '--name', 'Globex', '--currency', 'KES'],
      ['branch', 'add', 'cbd', '--tenant', 'globex', '--name', 'CBD', '--currency', 'KES'],
      ['gateway', 'setup', 'cash', '--tenant', 'acme'],
      ['gateway', 'setup', 'cash', '--tenant', 'globex'],
    ]) {
      const r = await runInProcess(args, { env: env.env })
      expect(r.code, r.stderr).toBe(0)
    }
    for (const [tname, tenant] of [
      ['acme-viewer', 'acme'],
      ['globex-viewer', 'globex'],
    ] as const) {
      const r = await runInProcess(
        ['token', 'create', '--name', tname, '--role', 'viewer', '--tenant', tenant, '--json'],
        { env: env.env },
      )
      expect(r.code, r.stderr).toBe(0)
      tokens[tname] = r.json<{ token: string }>().token
    }
    // A seeded day: payments in every status, method and gateway over the last hours, and an
    // open alert whose message holds markup.
    const store = await openStore(env.db)
    try {
      const b = await store.db
        .selectFrom('branches')
        .select(['id', 'tenant_id'])
        .where('code', '=', 'westlands')
        .executeTakeFirstOrThrow()
      const statuses = ['succeeded', 'succeeded', 'failed', 'cancelled', 'pending', 'succeeded']
      const methods = [
        ['mpesa', 'mpesa'],
        ['card', 'stripe'],
        ['cash', 'cash'],
      ] as const
      const now = Date.now()
      await store.write(async (trx) => {
        for (let i = 0; i < 24; i++) {
          const status = statuses[i % statuses.length]!
          const [method, gateway] = methods[i % 3]!
          const at = new Date(now - (i + 1) * 7 * 60_000).toISOString()
          await trx
            .insertInto('payments')
            .values({
              id: `pay_seed_${String(i).padStart(3, '0')}`,
              tenant_id: b.tenant_id,
              branch_id: b.id,
              order_id: null,
              amount_minor: BigInt(10_000 + i * 1_234_567),
              currency: 'KES',
              refunded_minor: 0n,
              method,
              customer_type: 'regular',
              phone: null,
              gateway: status === 'pending' ? null : gateway,
              status,
              failure_code: null,
              failure_message: null,
              routing: '{}',
              idempotency_key: null,
              receipt_number: null,
              gateway_ref: null,
              fee_minor: null,
              fee_rate_bp: null,
              fee_flat_minor: null,
              fee_currency: null,
              settlement_status: 'unsettled',
              settlement_batch_id: null,
              next_check_at: null,
              check_count: 0,
              created_at: at,
              updated_at: at,
              completed_at:
                status === 'pending'
                  ? null
                  : new Date(Date.parse(at) + 4_000 + i * 1000).toISOString(),
            })
            .execute()
        }
      })
    } finally {
      await store.close()
    }
    // The checks of `dsh health` (which the daemon repeats every minute) open a real alert: the
    // seeded day's success rate is below the threshold.
    const health = await runInProcess(['health', '--json'], { env: env.env })
    expect([0, 8], health.stderr).toContain(health.code)
    port = await freePort()
    daemon = await startDaemon(env.env, ['--port', String(port)])
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    page = await context.newPage()
    page.on('request', (r) => requests.push(r.url()))
    page.on('response', (r) => {
      const h = r.headers()
      responses.push({
        url: r.url(),
        csp: h['content-security-policy'],
        nosniff: h['x-content-type-options'],
      })
    })
    page.on('dialog', (d) => {
      dialogs.push(d.message())
      void d.dismiss()
    })
  }, 120_000)

  afterAll(async () => {
    await context?.close()
    await daemon?.stop()
  })

  it.runIf(enabled)(
    'signs in with a token and shows the same figures as dsh report --json, field by field',
    async () => {
      await page.goto(`${daemon.url}/dashboard#branch=westlands`)
      await page.waitForSelector('#signin:not([hidden])')
      await page.fill('#token', 'dsh_not_a_real_token')
      await page.click('#signin button')
      await page.waitForFunction(() => document.getElementById('signin-error')?.textContent !== '')
      expect(await page.textContent('#signin-error')).toBe('That token was not accepted.')
      await page.fill('#token', tokens['acme-viewer']!)
      await page.press('#token', 'Enter')
      await page.waitForFunction(() => document.body.dataset['loaded'] !== undefined)
      const r = await report()
      expect(r.count).toBeGreaterThan(0)
      expect(r.alerts.length).toBeGreaterThan(0)
      await settled(page)
      // The branch picker lists this tenant's branches only; names are text, never markup.
      const options = await page.$$eval('#branch option', (os) =>
        os.map((o) => [(o as HTMLOptionElement).value, o.textContent]),
      )
      expect(options).toEqual([
        ['karen', 'Karen (karen)'],
        ['westlands', `${EVIL} (westlands)`],
      ])
      expect(await page.textContent('#title')).toContain(EVIL)
      expect(await page.$$eval('img', (is) => is.length)).toBe(0)
      expect(dialogs).toEqual([])
      // Status is a word too, not only a colour.
      expect(await page.textContent('#recent td[data-field="status"] .word')).toMatch(/\w/)
    },
    60_000,
  )

  it.runIf(enabled)(
    'a dsh pay in another process appears within 2 s, without a reload',
    async () => {
      const before = await page.evaluate(() => performance.timeOrigin)
      const id = await pay('1234.50')
      const t0 = Date.now()
      await shown(page, id, 2_000)
      const ms = Date.now() - t0
      console.log(`${name}: payment shown ${ms} ms after dsh pay exited`)
      expect(await page.evaluate(() => performance.timeOrigin)).toBe(before)
      await settled(page)
    },
    30_000,
  )

  it.runIf(enabled)(
    'after a daemon restart the page resumes and misses no event',
    async () => {
      const before = Number(await page.evaluate(() => document.body.dataset['received'] ?? '0'))
      const lastBefore = await page.evaluate(() => document.body.dataset['lastEvent'])
      expect(lastBefore).toMatch(/^\d+$/)
      await daemon.stop()
      await waitFor(
        () => page.evaluate(() => document.getElementById('live')?.textContent === 'Reconnecting…'),
        5_000,
        'the page to notice',
      )
      const missed = [await pay('10.00'), await pay('20.00')]
      daemon = await startDaemon(env.env, [
        '--port',
        String(port),
        '--public-url',
        'https://dash.example.test',
      ])
      for (const id of missed) await shown(page, id, 10_000)
      const store = await openStore(env.db)
      let events: { seq: string | number | bigint }[]
      try {
        events = await store.db
          .selectFrom('events')
          .innerJoin('branches', 'branches.id', 'events.branch_id')
          .select('events.seq')
          .where('branches.code', '=', 'westlands')
          .where('events.seq', '>', lastBefore! as never)
          .orderBy('events.seq')
          .execute()
      } finally {
        await store.close()
      }
      expect(events.length).toBeGreaterThanOrEqual(2)
      await waitFor(
        () =>
          page.evaluate(
            (last) => document.body.dataset['lastEvent'] === last,
            String(events.at(-1)!.seq),
          ),
        5_000,
        'the last event',
      )
      const after = Number(await page.evaluate(() => document.body.dataset['received']))
      expect(after - before).toBe(events.length)
      await settled(page)
    },
    60_000,
  )

  it.runIf(enabled)(
    'screenshots at 375 and 1280 px; no horizontal scrolling on a phone; keyboard reaches the picker',
    async () => {
      await page.setViewportSize({ width: 375, height: 800 })
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
        375,
      )
      const small = join(ARTEFACTS, `${name}-375.png`)
      await page.screenshot({ path: small, fullPage: true })
      await page.setViewportSize({ width: 1280, height: 900 })
      const large = join(ARTEFACTS, `${name}-1280.png`)
      await page.screenshot({ path: large })
      console.log(`screenshots: ${small} ${large}`)
      if (process.env['DSH_UPDATE_SCREENSHOT'] === '1' && name === 'sqlite')
        copyFileSync(large, new URL('./screenshot-1280.png', import.meta.url))
      await page.focus('a.skip')
      const focused: string[] = []
      for (let i = 0; i < 6; i++) {
        await page.keyboard.press('Tab')
        focused.push(await page.evaluate(() => document.activeElement?.id ?? ''))
      }
      expect(focused).toContain('branch')
      expect(focused).toContain('date')
      expect(focused).toContain('logout')
    },
    30_000,
  )

  it.runIf(enabled)(
    'no session: 401 on every data request; a bearer token reads the report',
    async () => {
      const cookie = { cookie: 'dsh_session=dshs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }
      for (const path of [
        '/dashboard/branches',
        '/dashboard/branches/westlands/status',
        '/dashboard/events?branch=westlands',
        '/api/branches/westlands/report',
        '/api/branches/westlands/report?date=2026-11-29',
      ])
        for (const headers of [{}, cookie]) {
          const res = await fetch(`${daemon.url}${path}`, { headers })
          expect([path, res.status]).toEqual([path, 401])
          expect(res.headers.get('content-security-policy')).toContain("default-src 'self'")
        }
      const auth = { authorization: `Bearer ${tokens['acme-viewer']}` }
      const ok = await fetch(`${daemon.url}/api/branches/westlands/report`, { headers: auth })
      expect(ok.status).toBe(200)
      const body = (await ok.json()) as Report
      expect(expected(body)).toEqual(expected(await report()))
      const other = await fetch(`${daemon.url}/api/branches/cbd/report`, { headers: auth })
      expect(other.status).toBe(404)
      const bad = await fetch(`${daemon.url}/api/branches/westlands/report?date=today`, {
        headers: auth,
      })
      expect(bad.status).toBe(422)
      // A sign-in posted from another origin is refused before the token is looked at.
      for (const origin of ['https://evil.example', 'null']) {
        const cross = await fetch(`${daemon.url}/dashboard/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin },
          body: JSON.stringify({ token: tokens['acme-viewer'] }),
        })
        expect([origin, cross.status, cross.headers.get('set-cookie')]).toEqual([origin, 403, null])
      }
      // The session cookie: HttpOnly, SameSite=Strict, Path=/, 8 h, Secure behind https.
      const s = await fetch(`${daemon.url}/dashboard/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: tokens['globex-viewer']! }).toString(),
      })
      expect(s.status).toBe(204)
      expect(s.headers.get('set-cookie')).toMatch(
        /^dsh_session=dshs_[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=28800; Secure$/,
      )
      globexCookie = /^(dsh_session=[^;]+)/.exec(s.headers.get('set-cookie')!)![1]!
      const store = await openStore(env.db)
      try {
        const value = globexCookie.slice('dsh_session='.length)
        const rows = await store.db.selectFrom('dashboard_sessions').selectAll().execute()
        expect(rows.length).toBeGreaterThanOrEqual(2)
        expect(JSON.stringify(rows)).not.toContain(value)
      } finally {
        await store.close()
      }
    },
  )

  it.runIf(enabled)(
    "another tenant's token never shows this tenant's branches; logout ends the session",
    async () => {
      const other = await browser.newContext({ viewport: { width: 375, height: 800 } })
      try {
        const p = await other.newPage()
        await p.goto(`${daemon.url}/dashboard`)
        await p.fill('#token', tokens['globex-viewer']!)
        await p.click('#signin button')
        await p.waitForFunction(() => document.body.dataset['loaded'] !== undefined)
        expect(await p.$$eval('#branch option', (os) => os.map((o) => o.textContent))).toEqual([
          'CBD (cbd)',
        ])
        const statuses = await p.evaluate(async () =>
          Promise.all(
            [
              '/api/branches/westlands/report',
              '/dashboard/branches/westlands/status',
              '/dashboard/events?branch=westlands',
            ].map(async (u) => (await fetch(u)).status),
          ),
        )
        expect(statuses).toEqual([404, 404, 404])
        expect(await p.textContent('body')).not.toContain('westlands')
        await p.click('#logout')
        await p.waitForFunction(() => document.body.dataset['state'] === 'signed-out')
        expect(await p.evaluate(async () => (await fetch('/dashboard/branches')).status)).toBe(401)
      } finally {
        await other.close()
      }
    },
    30_000,
  )

  it.runIf(enabled)(
    'revoking the token signs the open page out within a second',
    async () => {
      const r = await cli('token', 'revoke', 'acme-viewer')
      expect(r.code, r.stderr).toBe(0)
      const t0 = Date.now()
      await page.waitForFunction(() => document.body.dataset['state'] === 'signed-out', null, {
        timeout: 1_000,
        polling: 20,
      })
      console.log(`${name}: signed out ${Date.now() - t0} ms after dsh token revoke exited`)
      expect(await page.textContent('#live')).toBe('Signed out')
      expect(await page.evaluate(async () => (await fetch('/dashboard/branches')).status)).toBe(401)
      // Control: a session of another token is still live.
      const other = await fetch(`${daemon.url}/dashboard/branches`, {
        headers: { cookie: globexCookie },
      })
      expect(other.status).toBe(200)
      // The signed-out page no longer updates.
      const id = await pay('30.00')
      await expect(shown(page, id, 1_500)).rejects.toThrow(/Timeout/)
    },
    30_000,
  )

  it.runIf(enabled)(
    'strict headers on every page response; no request to any other origin',
    async () => {
      const origin = new URL(daemon.url).origin
      expect(requests.length).toBeGreaterThan(5)
      expect(requests.filter((u) => new URL(u).origin !== origin)).toEqual([])
      expect(responses.length).toBeGreaterThan(5)
      for (const r of responses) {
        expect([r.url, r.csp]).toEqual([
          r.url,
          expect.stringMatching(/^default-src 'self';.*frame-ancestors 'none'/),
        ])
        expect(r.csp).not.toContain('unsafe-inline')
        expect(r.nosniff).toBe('nosniff')
      }
      const html = await fetch(`${daemon.url}/dashboard`)
      expect(html.headers.get('referrer-policy')).toBe('no-referrer')
      const text = await html.text()
      expect(text).not.toMatch(/<script(?![^>]*\bsrc=)/)
      expect(text).not.toMatch(/<style|\sstyle=/)
    },
  )

  it.runIf(enabled && name === 'sqlite')(
    'failed sign-ins from one address are slowed down',
    async () => {
      const attempt = async () => {
        const t0 = Date.now()
        const res = await fetch(`${daemon.url}/dashboard/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ token: 'dsh_wrong' }),
        })
        return { status: res.status, ms: Date.now() - t0 }
      }
      // No sign-in above failed from this address: five failures pass at once.
      const free = []
      for (let i = 0; i < 5; i++) free.push(await attempt())
      expect(free.map((f) => f.status)).toEqual([401, 401, 401, 401, 401])
      expect(Math.max(...free.map((f) => f.ms))).toBeLessThan(900)
      const slowed = await Promise.all([attempt(), attempt(), attempt()])
      expect(slowed.map((f) => f.status)).toEqual([401, 401, 401])
      expect(Math.max(...slowed.map((f) => f.ms))).toBeGreaterThanOrEqual(1_900)
    },
    30_000,
  )
})
