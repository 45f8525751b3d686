#!/usr/bin/env node
// Start-up benchmarks for dsh. Run with `npm run bench` (builds dist/ first).
//
// Each benchmark is { name, args, env? }: a command line run as `node <args>` with spawnSync.
// To add one, append to BENCHMARKS (or add a section with its own setup in main()).
// Output: a table on stdout, then one line `BENCH_JSON {...}` for machines.

import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const DSH = join(ROOT, 'bin', 'dsh')
const UNBUNDLED = join(ROOT, 'dist', 'src', 'main.js')
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3)
const RUNS = Number(process.env.BENCH_RUNS ?? 15)
const BUDGET_MS = Number(process.env.BENCH_BUDGET_MS ?? 90_000)
/** Payments in the seeded store, so `payments list --limit 20` reads a real page. */
const PAYMENTS = Number(process.env.BENCH_PAYMENTS ?? 1000)
const started = performance.now()

/** A clean environment: no NODE_OPTIONS (a loader would skew the numbers), no colour. */
function baseEnv(extra = {}) {
  const env = { ...process.env, NO_COLOR: '1', ...extra }
  delete env.NODE_OPTIONS
  return env
}

/** Runs `node ...args` once; returns wall time in ms; throws on a non-zero exit. */
function runOnce(args, env) {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, args, {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 20_000,
  })
  const ms = performance.now() - t0
  if (r.error) throw r.error
  if (r.status !== 0) {
    throw new Error(`node ${args.join(' ')} exited ${r.status}\n${r.stderr}`)
  }
  return ms
}

function percentile(sorted, p) {
  // nearest-rank percentile on sorted samples
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]
}

function summarise({ name, args }, samples) {
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    name,
    command: `node ${args.map((a) => (a === DSH ? 'bin/dsh' : a === UNBUNDLED ? 'dist/src/main.js' : a)).join(' ')}`,
    runs: sorted.length,
    min: sorted[0],
    median: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    max: sorted[sorted.length - 1],
  }
}

/**
 * Warms every benchmark up, then runs them round-robin (one run of each per round) so that
 * machine noise spreads evenly and the ratios between them stay fair.
 */
function measureAll(benchmarks) {
  const envs = benchmarks.map((b) => baseEnv(b.env))
  for (let i = 0; i < WARMUP; i++) {
    for (const [k, b] of benchmarks.entries()) runOnce(b.args, envs[k])
  }
  const samples = benchmarks.map(() => [])
  for (let round = 0; round < RUNS; round++) {
    if (performance.now() - started > BUDGET_MS) break
    for (const [k, b] of benchmarks.entries()) samples[k].push(runOnce(b.args, envs[k]))
  }
  return benchmarks.map((b, k) => summarise(b, samples[k]))
}

/**
 * A DSH_HOME with a store, tenant `acme` and 20 branches, all made through the CLI, then PAYMENTS
 * succeeded payments spread over the branches, inserted through the store (the CLI would need a
 * gateway round trip per payment).
 */
async function seedHome(home) {
  const env = baseEnv({ DSH_HOME: home })
  const dsh = (...args) => runOnce([DSH, ...args], env)
  dsh('init')
  dsh('tenant', 'add', 'acme', '--name', 'Acme')
  for (let i = 1; i <= 20; i++) {
    const code = `b${String(i).padStart(2, '0')}`
    const name = code.toUpperCase()
    dsh('branch', 'add', code, '--tenant', 'acme', '--name', name, '--currency', 'KES')
  }
  // make sure `branch list` measures the real thing, not an error path
  const listed = spawnSync(process.execPath, [DSH, '--json', 'branch', 'list'], {
    env,
    encoding: 'utf8',
  })
  const count = countItems(listed.stdout)
  if (listed.status !== 0 || count !== 20) {
    throw new Error(`seeding failed: branch list gave ${count} branches\n${listed.stderr}`)
  }
  await seedPayments(home)
  const page = spawnSync(process.execPath, [DSH, '--json', 'payments', 'list', '--limit', '20'], {
    env,
    encoding: 'utf8',
  })
  const shown = countItems(page.stdout)
  if (page.status !== 0 || shown !== Math.min(20, PAYMENTS)) {
    throw new Error(`seeding failed: payments list gave ${shown} payments\n${page.stderr}`)
  }
}

async function seedPayments(home) {
  const dist = (p) => pathToFileURL(join(ROOT, 'dist', p)).href
  const { openStore } = await import(dist('src/store/connect.js'))
  const store = await openStore(join(home, 'dsh.db'))
  try {
    const branches = await store.db.selectFrom('branches').select(['id', 'tenant_id']).execute()
    const base = Date.parse('2026-11-20T08:00:00.000Z')
    const rows = []
    for (let i = 0; i < PAYMENTS; i++) {
      const b = branches[i % branches.length]
      const at = new Date(base + i * 60_000).toISOString()
      rows.push({
        id: `pay_${String(i).padStart(8, '0')}`,
        tenant_id: b.tenant_id,
        branch_id: b.id,
        order_id: `o${i}`,
        amount_minor: 100n + BigInt((i * 7919) % 500_000),
        currency: 'KES',
        refunded_minor: 0n,
        method: 'cash',
        customer_type: 'walk_in',
        phone: null,
        gateway: 'cash',
        status: 'succeeded',
        failure_code: null,
        failure_message: null,
        routing: '{}',
        idempotency_key: null,
        receipt_number: `R${i}`,
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
        completed_at: at,
      })
    }
    await store.write(async (trx) => {
      for (let i = 0; i < rows.length; i += 500) {
        await trx
          .insertInto('payments')
          .values(rows.slice(i, i + 500))
          .execute()
      }
    })
  } finally {
    await store.close()
  }
}

function countItems(json) {
  try {
    const v = JSON.parse(json)
    const list = Array.isArray(v) ? v : (Object.values(v).find(Array.isArray) ?? [])
    return list.length
  } catch {
    return -1
  }
}

function table(results) {
  const rows = [
    ['benchmark', 'command', 'runs', 'median ms', 'p90 ms', 'min ms', 'max ms'],
    ...results.map((r) => [
      r.name,
      r.command,
      String(r.runs),
      r.median.toFixed(1),
      r.p90.toFixed(1),
      r.min.toFixed(1),
      r.max.toFixed(1),
    ]),
  ]
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)))
  const line = (row) =>
    row.map((cell, c) => (c >= 2 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ')
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)]
}

async function main() {
  const home = mkdtempSync(join(tmpdir(), 'dsh-bench-'))
  try {
    await seedHome(home)
    const BENCHMARKS = [
      { name: 'node', args: ['-e', '0'] },
      { name: 'dsh --help', args: [DSH, '--help'] },
      { name: 'dsh branch list', args: [DSH, 'branch', 'list'], env: { DSH_HOME: home } },
      {
        name: 'dsh payments list',
        args: [DSH, 'payments', 'list', '--limit', '20'],
        env: { DSH_HOME: home },
      },
      // The same commands from tsc's one-file-per-module output (dist/src/main.js, what bin/dsh
      // ran before the bundle), side by side in the same rounds
      { name: 'unbundled --help', args: [UNBUNDLED, '--help'] },
      {
        name: 'unbundled branch list',
        args: [UNBUNDLED, 'branch', 'list'],
        env: { DSH_HOME: home },
      },
      {
        name: 'unbundled payments list',
        args: [UNBUNDLED, 'payments', 'list', '--limit', '20'],
        env: { DSH_HOME: home },
      },
      // --verbose makes bin/dsh read the source maps (stacks then name the TypeScript): their cost
      {
        name: 'dsh branch list --verbose',
        args: [DSH, 'branch', 'list', '--verbose'],
        env: { DSH_HOME: home },
      },
    ]
    const results = measureAll(BENCHMARKS)
    const byName = Object.fromEntries(results.map((r) => [r.name, r]))
    const ratio = (a, b) => byName[a].median / byName[b].median
    const ratios = {
      'dsh --help / node -e 0': ratio('dsh --help', 'node'),
      'dsh branch list / node -e 0': ratio('dsh branch list', 'node'),
      'dsh payments list / node -e 0': ratio('dsh payments list', 'node'),
      'dsh branch list --verbose / node -e 0': ratio('dsh branch list --verbose', 'node'),
      'unbundled --help / node -e 0': ratio('unbundled --help', 'node'),
      'unbundled branch list / node -e 0': ratio('unbundled branch list', 'node'),
      'unbundled payments list / node -e 0': ratio('unbundled payments list', 'node'),
    }
    const targets = {
      'dsh --help / node -e 0': 1.4,
      'dsh branch list / node -e 0': 2.3,
      'dsh payments list / node -e 0': 2.3,
    }
    const met = Object.fromEntries(Object.entries(targets).map(([k, t]) => [k, ratios[k] <= t]))

    const machine = {
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      cpus: cpus().length,
      cpu: cpus()[0]?.model ?? 'unknown',
    }
    console.log(
      `dsh start-up benchmark: ${machine.node}, ${machine.platform}, ${machine.cpus} × ${machine.cpu}`,
    )
    console.log(
      `${WARMUP} warm-up runs, then ${RUNS} timed runs each, round-robin (wall time of spawnSync)\n`,
    )
    for (const l of table(results)) console.log(l)
    console.log('')
    for (const [k, v] of Object.entries(ratios)) {
      const verdict = k in targets ? `target ≤ ${targets[k]}x ${met[k] ? 'met' : 'NOT met'}` : ''
      console.log(`${k.padEnd(40)} ${v.toFixed(2)}x  ${verdict}`)
    }
    console.log(
      `load average (1, 5, 15 min): ${loadavg()
        .map((l) => l.toFixed(2))
        .join(', ')}`,
    )
    console.log(
      `BENCH_JSON ${JSON.stringify({
        date: new Date().toISOString(),
        machine,
        warmup: WARMUP,
        runs: RUNS,
        results: results.map((r) => ({
          ...r,
          median: +r.median.toFixed(2),
          p90: +r.p90.toFixed(2),
          min: +r.min.toFixed(2),
          max: +r.max.toFixed(2),
        })),
        ratios: Object.fromEntries(Object.entries(ratios).map(([k, v]) => [k, +v.toFixed(3)])),
        targets,
        met,
        loadavg: loadavg().map((l) => +l.toFixed(2)),
        elapsedMs: Math.round(performance.now() - started),
      })}`,
    )
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}

await main()
