import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

/**
 * The scale benchmark runs end to end at a tiny scale, so that it cannot rot between the runs of
 * `npm run bench`: it seeds both stores through the real schema, spawns every measured command,
 * runs a daemon with callbacks and scrapes, and prints BENCH_JSON. Not a timing test: its targets
 * are for 1,000,000 payments, so only the shape and the row counts are checked.
 */
describe('test/bench/scale.mjs at a tiny scale', () => {
  it('seeds both stores, measures every command and the daemon, and prints BENCH_JSON', async () => {
    const child = spawn(process.execPath, [join('test', 'bench', 'scale.mjs')], {
      env: {
        ...process.env,
        SCALE_PAYMENTS: '2000',
        SCALE_SMALL: '500',
        SCALE_BRANCHES: '3',
        SCALE_DAYS: '5',
        SCALE_RUNS: '1',
        SCALE_ACK_SECONDS: '2',
        SCALE_ACK_RATE: '10',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
    })
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)))
    expect(code, out).toBe(0)
    const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '))
    expect(line, out).toBeDefined()
    const bench = JSON.parse((line as string).slice('BENCH_JSON '.length)) as {
      stores: Record<'small' | 'large', { payments: number; rows: Record<string, number> }>
      rows: { what: string; smallMs: number | null; largeMs: number | null }[]
    }
    expect(bench.stores.small.rows['payments']).toBe(500)
    expect(bench.stores.large.rows['payments']).toBe(2000)
    for (const what of [
      'payments list',
      'payments list --branch',
      'payments list --status',
      'payments list --since',
      'payments show',
      'callbacks list',
      'audit list',
      'report',
      'settle --dry-run (one branch-day)',
      'GET /metrics',
      'GET /api/payments/:id/status',
    ]) {
      const row = bench.rows.find((r) => r.what === what)
      expect(row, what).toBeDefined()
      expect(row?.smallMs, what).toBeGreaterThan(0)
      expect(row?.largeMs, what).toBeGreaterThan(0)
    }
  }, 240_000)
})
