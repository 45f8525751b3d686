import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, type RunningDaemon, startDaemon } from '../daemon/helpers.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'

/** Issue 10, item 7: unauthenticated requests cannot pin memory. */
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

/** The daemon's resident memory in bytes (Linux /proc). */
const rss = (): number => {
  const status = readFileSync(`/proc/${daemon.proc.pid}/status`, 'utf8')
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? Number.NaN) * 1024
}

async function flood(count: number, pathOf: (i: number) => string, parallel = 32): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const i = next++
        const res = await fetch(`${daemon.url}${pathOf(i)}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        })
        await res.arrayBuffer()
        expect(res.status).toBe(404)
      }
    }),
  )
}

describe.runIf(process.platform === 'linux')('a flood of bad callback paths', () => {
  it('10,000 distinct bad paths leave the daemon within 20 MB of where it started', async () => {
    const pad = 'a'.repeat(6_000)
    const bad = (i: number) => {
      const id = i.toString(36).padStart(8, '0')
      switch (i % 4) {
        case 0:
          return `/webhooks/stripe/${pad}${id}`
        case 1:
          return `/webhooks/square/b${id}`
        case 2:
          return `/callbacks/mpesa/${pad}${id}`
        default:
          return `/callbacks/mpesa-kcb/${id}${'0'.repeat(24)}`
      }
    }
    // Warm up (JIT, pools, the first look-ups), then measure.
    await flood(3_000, (i) => bad(1_000_000 + i))
    const start = rss()
    await flood(10_000, bad)
    const end = rss()
    console.log(`rss ${start} → ${end}`)
    expect(end - start, `rss ${start} → ${end}`).toBeLessThan(20 * 1024 * 1024)
    const h = await fetch(`${daemon.url}/healthz`)
    expect(h.status).toBe(200)
  }, 120_000)
})
