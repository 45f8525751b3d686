import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, type RunningDaemon, startDaemon, waitFor } from '../daemon/helpers.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'

/** Issue 10, item 4: revocation closes open event streams. */
const env = usePaymentsEnv('sqlite')
let daemon: RunningDaemon

beforeAll(async () => {
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

const cashPay = async (amount: string) => {
  const r = await env.run(
    'pay',
    '--branch',
    'westlands',
    '--amount',
    amount,
    '--currency',
    'KES',
    '--method',
    'cash',
    '--json',
  )
  expect(r.code, r.stderr).toBe(0)
  return r.json<{ id: string }>().id
}

async function openStream(token: string) {
  const res = await fetch(`${daemon.url}/api/events`, {
    headers: { authorization: `Bearer ${token}` },
  })
  expect(res.status).toBe(200)
  const state = { text: '', ended: false }
  const done = (async () => {
    const dec = new TextDecoder()
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
        state.text += dec.decode(chunk)
    } catch {
      // cut
    }
    state.ended = true
  })()
  return { state, done }
}

describe('an open event stream and its token', () => {
  it('ends within a second or so of `dsh token revoke`, and delivers nothing after', async () => {
    const made = await env.run('token', 'create', '--name', 'watcher', '--role', 'viewer', '--json')
    const token = made.json<{ token: string }>().token
    const keep = await env.run('token', 'create', '--name', 'keeper', '--role', 'viewer', '--json')
    const other = await openStream(keep.json<{ token: string }>().token)
    const s = await openStream(token)
    const first = await cashPay('11')
    await waitFor(() => s.state.text.includes(first), 5_000, 'the first event')
    expect((await env.run('token', 'revoke', 'watcher')).code).toBe(0)
    const revokedAt = Date.now()
    await waitFor(() => s.state.ended, 3_000, 'the stream to end')
    expect(Date.now() - revokedAt).toBeLessThan(1_600)
    expect(s.state.text).toContain('event: end')
    const second = await cashPay('12')
    // The other token's stream goes on and sees it; the revoked one never does.
    await waitFor(() => other.state.text.includes(second), 5_000, 'the event on the live stream')
    expect(s.state.text).not.toContain(second)
    expect(other.state.ended).toBe(false)
  })
})
