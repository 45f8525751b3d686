import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.js'
import { clientAddress, parseAddressSet } from '../../src/daemon/client-address.js'
import { SignInThrottle } from '../../src/daemon/dashboard.js'
import { parseDaemonOptions, runDaemon } from '../../src/daemon/index.js'
import { post, startDaemon, stkCallback, waitFor } from '../daemon/helpers.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'
import { testRuntime } from '../helpers/run-cli.js'

/** Issue 23, items 3 and 6: the client's address behind a proxy, and the sign-in throttle. */

const set = (...entries: string[]) => {
  const s = parseAddressSet(entries)
  if ('bad' in s) throw new Error(s.bad)
  return s
}

describe('clientAddress: X-Forwarded-For only from trusted proxies, read from the right', () => {
  const loopback = set('127.0.0.0/8', '::1')
  it.each([
    // [peer, X-Forwarded-For, client, trusted]
    ['127.0.0.1', '196.201.214.10, 6.6.6.6', '6.6.6.6', loopback],
    ['127.0.0.1', '6.6.6.6, 196.201.214.10', '196.201.214.10', loopback],
    ['::ffff:127.0.0.1', '::ffff:196.201.214.10', '196.201.214.10', loopback],
    ['::1', '2001:DB8::1', '2001:db8::1', loopback],
    // A peer that is no trusted proxy: its header is the client's own words, ignored.
    ['6.6.6.6', '196.201.214.10', '6.6.6.6', loopback],
    ['127.0.0.1', '196.201.214.10', '127.0.0.1', set('10.0.0.0/8')],
    // Two proxies (nginx, then a load balancer): both skipped.
    [
      '10.0.0.2',
      '1.2.3.4, 196.201.214.10, 127.0.0.1',
      '196.201.214.10',
      set('127.0.0.1', '10.0.0.0/8'),
    ],
    // Every hop trusted: the left-most is as far as anyone vouches.
    ['127.0.0.1', '127.0.0.5, 127.0.0.6', '127.0.0.5', loopback],
    // No header, an empty entry, a garbage entry (no address: allow-lists refuse).
    ['127.0.0.1', undefined, '127.0.0.1', loopback],
    ['127.0.0.1', '6.6.6.6, , ', '6.6.6.6', loopback],
    ['127.0.0.1', '196.201.214.10, not-an-ip', undefined, loopback],
  ] as const)('peer %s, X-Forwarded-For %s → %s', (peer, xff, client, trusted) => {
    expect(clientAddress(peer, xff, trusted)).toBe(client)
  })

  it('--trusted-proxies: default loopback, implies --trust-proxy, bad entries are usage errors', () => {
    const plain = parseDaemonOptions({}, {})
    expect(plain.trustProxy).toBe(false)
    expect(plain.trustedProxies.entries).toEqual(['127.0.0.0/8', '::1'])
    expect(parseDaemonOptions({ trustProxy: true }, {}).trustProxy).toBe(true)
    const named = parseDaemonOptions({ trustedProxies: '10.0.0.0/8, fd00::/8' }, {})
    expect(named.trustProxy).toBe(true)
    expect(named.trustedProxies.has('fd00::17')).toBe(true)
    expect(named.trustedProxies.has('::ffff:10.9.8.7')).toBe(true)
    expect(named.trustedProxies.has('127.0.0.1')).toBe(false)
    expect(parseDaemonOptions({}, { DSH_TRUSTED_PROXIES: '192.168.0.0/16' }).trustProxy).toBe(true)
    for (const bad of ['10.0.0.0/33', 'proxy.example', '::1/129', '10.0.0.0/8/1'])
      expect(() => parseDaemonOptions({ trustedProxies: bad }, {})).toThrow(
        `--trusted-proxies: "${bad}" is not an IP address or a network`,
      )
  })
})

describe('SignInThrottle (an injected clock)', () => {
  it('one valid token every 5th try no longer resets the address: 320 guesses take 315 s', async () => {
    let t = 0
    let slept = 0
    const th = new SignInThrottle(
      () => t,
      async (ms) => {
        t += ms
        slept += ms
      },
    )
    const good = 'dsh_GOODtoken'
    for (let i = 0; i < 400; i++) {
      const token = i % 5 === 4 ? good : `dsh_${String(i).padStart(4, '0')}guess`
      const prefix = SignInThrottle.prefixOf(token)
      expect(await th.turn('203.0.113.7', prefix)).toBe(true)
      if (token === good) th.succeeded(prefix)
      else th.failed('203.0.113.7', prefix)
    }
    // 320 failures: the first five free, then one attempt a second (good ones wait their turn too).
    expect(slept).toBeGreaterThanOrEqual(315 * SignInThrottle.PENALTY_MS)
    // Another address is not slowed by this one; another token prefix from it is.
    const before = slept
    expect(await th.turn('198.51.100.1', 'dsh_othr')).toBe(true)
    expect(slept).toBe(before)
  })

  it('a token prefix is counted across addresses; its own success clears it', async () => {
    let t = 0
    const th = new SignInThrottle(
      () => t,
      async (ms) => {
        t += ms
      },
    )
    for (let i = 0; i < 5; i++) th.failed(`10.0.0.${i}`, 'dsh_AbCd')
    const t0 = t
    expect(await th.turn('10.0.0.99', 'dsh_AbCd')).toBe(true)
    expect(await th.turn('10.0.0.98', 'dsh_AbCd')).toBe(true)
    expect(t - t0).toBe(SignInThrottle.PENALTY_MS)
    th.succeeded('dsh_AbCd')
    const t1 = t
    expect(await th.turn('10.0.0.97', 'dsh_AbCd')).toBe(true)
    expect(t).toBe(t1)
    // Twelve at once (the clock stands still): ten wait their turn, the rest are refused.
    const still = new SignInThrottle(
      () => 0,
      async () => {},
    )
    for (let i = 0; i < 5; i++) still.failed('10.9.9.9', `dsh_x${i}`)
    const answers = await Promise.all(
      Array.from({ length: 13 }, () => still.turn('10.9.9.9', 'dsh_zzzz')),
    )
    expect(answers.filter((a) => a).length).toBe(
      SignInThrottle.MAX_WAIT_MS / SignInThrottle.PENALTY_MS + 1,
    )
  })
})

const env = usePaymentsEnv('sqlite')
const vars = () => ({ DSH_HOME: env.home, DSH_DB: env.db })

describe('allow-listed Daraja callbacks through --trust-proxy (a real daemon)', () => {
  it('`X-Forwarded-For: <allowed>, <spoofed client>` is refused; the real client from a trusted proxy is accepted', async () => {
    const url = (
      await env.run('gateway', 'callback-url', 'mpesa', '--branch', 'westlands', '--json')
    ).json<{ url: string }>().url
    const path = new URL(url).pathname
    const allow = ['--mpesa-allow-ips', '196.201.214.0/24']
    const d = await startDaemon(vars(), ['--port', '0', '--trust-proxy', ...allow])
    try {
      const send = (xff: string, id: string) =>
        post(`${d.url}${path}`, stkCallback(id), { 'x-forwarded-for': xff })
      // What nginx forwards when a client wrote the allowed address itself: refused.
      expect((await send('196.201.214.10, 6.6.6.6', 'ws_CO_XFF_1')).status).toBe(404)
      // The real Safaricom address appended by the proxy (127.0.0.1, trusted by default).
      expect((await send('6.6.6.6, 196.201.214.10', 'ws_CO_XFF_2')).status).toBe(200)
      expect((await send('::ffff:196.201.214.11', 'ws_CO_XFF_3')).status).toBe(200)
    } finally {
      expect(await d.stop()).toBe(0)
    }
    // Control: the peer is not a trusted proxy: the header is ignored, the socket's address is
    // the client (127.0.0.1, not on the list).
    const other = await startDaemon(vars(), [
      '--port',
      '0',
      '--trusted-proxies',
      '10.0.0.0/8',
      ...allow,
    ])
    try {
      const r = await post(`${other.url}${path}`, stkCallback('ws_CO_XFF_4'), {
        'x-forwarded-for': '196.201.214.10',
      })
      expect(r.status).toBe(404)
    } finally {
      expect(await other.stop()).toBe(0)
    }
    // Control: without --trust-proxy the header means nothing.
    const off = await startDaemon(vars(), ['--port', '0', ...allow])
    try {
      const r = await post(`${off.url}${path}`, stkCallback('ws_CO_XFF_5'), {
        'x-forwarded-for': '196.201.214.10',
      })
      expect(r.status).toBe(404)
    } finally {
      expect(await off.stop()).toBe(0)
    }
  }, 60_000)
})

describe('dashboard sign-in behind a proxy (in process, a shortened penalty)', () => {
  it('rotating the spoofed X-Forwarded-For part and a valid token every 5th try still meets 429', async () => {
    const token = (
      await env.run('token', 'create', '--name', 'proxy-viewer', '--role', 'viewer', '--json')
    ).json<{ token: string }>().token
    const saved = { penalty: SignInThrottle.PENALTY_MS, wait: SignInThrottle.MAX_WAIT_MS }
    SignInThrottle.PENALTY_MS = 50
    SignInThrottle.MAX_WAIT_MS = 100
    const { rt } = testRuntime({ env: vars() })
    const app = createApp(rt, {})
    const signals = new EventEmitter()
    let listening: { url: string } | undefined
    const running = runDaemon(app, parseDaemonOptions({ port: '0', trustProxy: true }, {}), {
      signals,
      logWrite: () => {},
      onListening: (info) => {
        listening = info
      },
    })
    try {
      await waitFor(() => listening, 10_000, 'the in-process daemon')
      const signIn = async (i: number, value: string) =>
        (
          await fetch(`${listening!.url}/dashboard/session`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'x-forwarded-for': `10.${i % 250}.0.1, 203.0.113.7`,
            },
            body: JSON.stringify({ token: value }),
          })
        ).status
      const statuses: number[] = []
      for (let round = 0; round < 6; round++) {
        const guesses = await Promise.all(
          [0, 1, 2, 3].map((k) => signIn(round * 5 + k, `dsh_${round}${k}guess`)),
        )
        statuses.push(...guesses, await signIn(round * 5 + 4, token))
      }
      // The address's failures kept counting through the good sign-ins: guesses met 429.
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0)
      expect(statuses.filter((s) => s === 204).length).toBeGreaterThan(0)
    } finally {
      SignInThrottle.PENALTY_MS = saved.penalty
      SignInThrottle.MAX_WAIT_MS = saved.wait
      signals.emit('SIGTERM')
      await running
      await app.close()
    }
  }, 30_000)
})
