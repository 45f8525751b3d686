import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

/**
 * The reconciliation benchmark runs end to end at a tiny scale: import, re-import (nothing new),
 * payments and batches, the bank statement, the run, and the figures it prints. Not a timing test:
 * the targets are for 100k lines, so the exit code (1 when a target is missed) is not checked.
 */
describe('test/bench/reconcile.mjs at a tiny scale', () => {
  it('imports, re-imports nothing, reconciles and prints BENCH_JSON', () => {
    const r = spawnSync(process.execPath, [join('test', 'bench', 'reconcile.mjs')], {
      env: { ...process.env, BENCH_LINES: '300', BENCH_BIG_LINES: '0', BENCH_BATCHES: '20' },
      encoding: 'utf8',
      timeout: 240_000,
    })
    expect(r.stderr).toBe('')
    const line = r.stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '))
    expect(line, r.stdout).toBeDefined()
    const { bench, results } = JSON.parse((line as string).slice('BENCH_JSON '.length))
    expect(bench).toBe('reconcile')
    expect(results.import).toMatchObject({ lines: 300 })
    expect(results.reimport).toMatchObject({ lines: 300, inserted: 0 })
    // 300 M-Pesa lines and 20 bank credits; 1% of the payments carry another receipt (3 lines
    // unmatched, 3 payments missing), every batch is paid.
    expect(results.reconcile).toMatchObject({
      lines: 320,
      payments: 300,
      batches: 20,
      matched: 317,
      discrepancies: 6,
    })
    expect(r.stdout).toContain('reconcile 300+20 lines')
    expect(results.big).toBeUndefined()
  }, 300_000)
})
