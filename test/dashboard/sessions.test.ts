import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createToken, revokeToken } from '../../src/access/tokens.js'
import { type App, createApp } from '../../src/app.js'
import {
  endSession,
  SESSION_MS,
  sessionPrincipal,
  startSession,
} from '../../src/dashboard/sessions.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess, testRuntime } from '../helpers/run-cli.js'

describe.each(DIALECTS)('dashboard sessions on $name', ({ name, enabled }) => {
  const s = useStoreEnv(name)
  let now = new Date('2026-11-29T06:00:00.000Z')
  const clock = { now: () => now }
  let app: App
  const tokens: Record<string, string> = {}

  beforeAll(async () => {
    if (!enabled) return
    for (const args of [['init'], ['tenant', 'add', 'acme', '--name', 'Acme']]) {
      const r = await runInProcess(args, { env: s.env })
      expect(r.code, r.stderr).toBe(0)
    }
    app = createApp(testRuntime({ env: s.env, clock }).rt, {})
    for (const n of ['wall', 'desk'])
      tokens[n] = (await createToken(app, { name: n, role: 'viewer', tenant: 'acme' })).token
  })
  afterAll(async () => {
    await app?.close()
  })

  it.runIf(enabled)('a live token starts an 8-hour session stored only as a hash', async () => {
    expect(await startSession(app, 'dsh_nope')).toBeUndefined()
    expect(await startSession(app, undefined)).toBeUndefined()
    const started = (await startSession(app, tokens['wall']))!
    expect(started.value).toMatch(/^dshs_[A-Za-z0-9_-]{43}$/)
    expect(started.expiresAt.toISOString()).toBe('2026-11-29T14:00:00.000Z')
    const store = await app.store()
    const rows = await store.db.selectFrom('dashboard_sessions').selectAll().execute()
    expect(rows).toHaveLength(1)
    expect(JSON.stringify(rows)).not.toContain(started.value)
    expect(await sessionPrincipal(app, started.value)).toMatchObject({
      name: 'wall',
      role: 'viewer',
      tenantSlug: 'acme',
    })
    const forged = `${started.value.slice(0, -1)}${started.value.endsWith('A') ? 'B' : 'A'}`
    expect(await sessionPrincipal(app, forged)).toBeUndefined()
    now = new Date(Date.parse('2026-11-29T06:00:00.000Z') + SESSION_MS - 1)
    expect(await sessionPrincipal(app, started.value)).toBeDefined()
    now = new Date(Date.parse('2026-11-29T06:00:00.000Z') + SESSION_MS)
    expect(await sessionPrincipal(app, started.value)).toBeUndefined()
  })

  it.runIf(enabled)('logout ends one session; revoking the token ends all of its', async () => {
    const a = (await startSession(app, tokens['wall']))!
    const b = (await startSession(app, tokens['wall']))!
    const other = (await startSession(app, tokens['desk']))!
    await endSession(app, a.value)
    expect(await sessionPrincipal(app, a.value)).toBeUndefined()
    expect(await sessionPrincipal(app, b.value)).toBeDefined()
    await revokeToken(app, 'wall')
    expect(await sessionPrincipal(app, b.value)).toBeUndefined()
    // Control: another token's session is untouched.
    expect((await sessionPrincipal(app, other.value))?.name).toBe('desk')
    expect(await startSession(app, tokens['wall'])).toBeUndefined()
  })
})
