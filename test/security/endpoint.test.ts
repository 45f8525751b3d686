import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, type RunningDaemon, startDaemon } from '../daemon/helpers.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'
import { api } from './helpers.js'

/** Issue 10, item 1: a changed endpoint never carries the stored secrets. */
const env = usePaymentsEnv('sqlite')
let daemon: RunningDaemon
const tokens: Record<string, string> = {}
const MPESA = '/api/branches/westlands/payment-gateways/mpesa'

beforeAll(async () => {
  for (const [name, tenant] of [
    ['acme-admin', 'acme'],
    ['root', undefined],
  ] as const) {
    const r = await env.run(
      'token',
      'create',
      '--name',
      name,
      '--role',
      'admin',
      ...(tenant ? ['--tenant', tenant] : []),
      '--json',
    )
    expect(r.code, r.stderr).toBe(0)
    tokens[name] = r.json<{ token: string }>().token
  }
  const port = await freePort()
  daemon = await startDaemon({ DSH_HOME: env.home, DSH_DB: env.db }, [
    '--port',
    String(port),
    '--public-url',
    `http://127.0.0.1:${port}`,
  ])
})

afterAll(async () => {
  expect(await daemon?.stop()).toBe(0)
})

const storedBaseUrl = async () => {
  const r = await env.run('gateway', 'show', 'mpesa', '--branch', 'westlands', '--json')
  return r.json<{ settings: { baseUrl: string } }>().settings.baseUrl
}

describe('a changed base URL or environment keeps no stored secret', () => {
  it('a tenant-scoped token may not change baseUrl at all (403), nothing changes', async () => {
    const before = await storedBaseUrl()
    const r = await api(daemon, 'POST', MPESA, tokens['acme-admin'], {
      baseUrl: 'http://127.0.0.1:18099',
    })
    expect(r.status).toBe(403)
    expect(r.json.error?.code).toBe('forbidden')
    // Even with every secret given again.
    const again = await api(daemon, 'POST', MPESA, tokens['acme-admin'], {
      baseUrl: 'http://127.0.0.1:18099',
      passkey: 'p',
      consumerKey: 'k',
      consumerSecret: 's',
    })
    expect(again.status).toBe(403)
    expect(await storedBaseUrl()).toBe(before)
    // Other fields stay editable by the tenant's admin.
    const ok = await api(daemon, 'POST', MPESA, tokens['acme-admin'], { readTimeout: '2' })
    expect(ok.status, ok.text).toBe(200)
  })

  it('API: a new baseUrl without the secrets is 422 naming every secret field', async () => {
    const r = await api(daemon, 'POST', MPESA, tokens['root'], {
      baseUrl: 'http://127.0.0.1:18099',
    })
    expect(r.status, r.text).toBe(422)
    expect(r.json.error?.code).toBe('secrets_required')
    expect(r.json.error?.message).toBe(
      'a new base URL keeps no stored secret: give passkey, consumerKey, consumerSecret again',
    )
    expect(await storedBaseUrl()).toBe(env.sandbox.url)
    // Only some secrets given: still refused, naming the missing one.
    const some = await api(daemon, 'POST', MPESA, tokens['root'], {
      baseUrl: 'http://127.0.0.1:18099',
      passkey: 'p',
      consumerKey: 'k',
    })
    expect(some.status).toBe(422)
    expect(some.json.error?.message).toMatch(/give consumerSecret again$/)
  })

  it('CLI: the same refusal (exit 3), and a change of environment too', async () => {
    const r = await env.run(
      'gateway',
      'setup',
      'mpesa',
      '--branch',
      'westlands',
      '--base-url',
      'http://127.0.0.1:18099',
    )
    expect(r.code, r.stderr).toBe(3)
    expect(r.stderr).toContain('give --passkey, --consumer-key, --consumer-secret again')
    const e = await env.run(
      'gateway',
      'setup',
      'mpesa',
      '--branch',
      'karen',
      '--environment',
      'production',
      '--base-url',
      'https://api.safaricom.co.ke',
    )
    expect(e.code, e.stderr).toBe(3)
    expect(e.stderr).toContain('a new environment keeps no stored secret')
    expect(await storedBaseUrl()).toBe(env.sandbox.url)
  })

  it('with every secret given again, the move is made and audited with old and new URL', async () => {
    const r = await api(daemon, 'POST', MPESA, tokens['root'], {
      baseUrl: 'http://127.0.0.1:18099',
      passkey: 'newPasskey1',
      consumerKey: 'newKey1',
      consumerSecret: 'newSecret1',
    })
    expect(r.status, r.text).toBe(200)
    expect(await storedBaseUrl()).toBe('http://127.0.0.1:18099')
    const audit = await env.run('audit', 'list', '--action', 'gateway.update', '--json')
    const last = audit.json<{ request: Record<string, unknown> }[]>().at(-1)
    expect(last?.request['baseUrlChange']).toEqual({
      from: env.sandbox.url,
      to: 'http://127.0.0.1:18099',
    })
    // Back, for the other tests.
    const back = await api(daemon, 'POST', MPESA, tokens['root'], {
      baseUrl: env.sandbox.url,
      passkey: 'newPasskey1',
      consumerKey: 'newKey1',
      consumerSecret: 'newSecret1',
    })
    expect(back.status, back.text).toBe(200)
  })

  it('production base URLs are https on a known host unless --custom-base-url', async () => {
    const secrets = (dir: string) => {
      const put = (n: string, v: string) => {
        const p = join(dir, n)
        writeFileSync(p, v)
        return p
      }
      return [
        '--secret-key-file',
        put('sk2', 'sk_live_x1'),
        '--webhook-secret-file',
        put('wh2', 'whsec_x1'),
      ]
    }
    const base = ['gateway', 'setup', 'stripe', '--branch', 'karen', '--environment', 'production']
    const http = await env.run(...base, ...secrets(env.home), '--base-url', 'http://api.stripe.com')
    expect(http.code, http.stderr).toBe(3)
    expect(http.stderr).toContain('production URLs must use https')
    const foreign = await env.run(
      ...base,
      ...secrets(env.home),
      '--base-url',
      'https://stripe.example.net',
    )
    expect(foreign.code, foreign.stderr).toBe(3)
    expect(foreign.stderr).toContain(
      'stripe.example.net is not a known stripe host (api.stripe.com)',
    )
    const userInfo = await env.run(
      ...base,
      ...secrets(env.home),
      '--base-url',
      'https://u:hunter2@api.stripe.com',
      '--custom-base-url',
    )
    expect(userInfo.code).toBe(3)
    expect(userInfo.stderr).not.toContain('hunter2')
    const custom = await env.run(
      ...base,
      ...secrets(env.home),
      '--base-url',
      'https://stripe.example.net',
      '--custom-base-url',
    )
    expect(custom.code, custom.stderr).toBe(0)
    const known = await env.run(
      ...base,
      ...secrets(env.home),
      '--base-url',
      'https://api.stripe.com',
    )
    expect(known.code, known.stderr).toBe(0)
    // The API has no --custom-base-url: an unknown production host is refused there.
    const viaApi = await api(
      daemon,
      'POST',
      '/api/branches/karen/payment-gateways/stripe',
      tokens['root'],
      {
        baseUrl: 'https://stripe.example.net',
        secretKey: 'sk_live_x2',
        webhookSecret: 'whsec_x2',
      },
    )
    expect(viaApi.status).toBe(422)
    expect(viaApi.json.error?.code).toBe('unknown_gateway_host')
  })
})
