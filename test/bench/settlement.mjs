// Settlement benchmark (issue 11): one `settle --all` over 100,000 succeeded payments in 40
// branches (one gateway each, so 40 batches, file transfers written to the outbox), then the rerun
// that finds nothing to do. Targets on SQLite: run <= 1 s, rerun <= 0.5 s. Set-based SQL: the
// run's members are read once from the covering partial index payments_settle_idx, then one
// INSERT … SELECT fills the items and one UPDATE moves the payments, whatever their number; on
// SQLite that move adjusts the counters (payment_counts) in one grouped upsert while the row
// trigger stands aside (migration 0015).
// It prints wall time and the process's CPU time (the machine is shared: say how loaded it was).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const DSH = join(ROOT, 'bin', 'dsh')
const dist = (p) => pathToFileURL(join(ROOT, 'dist', p)).href
const PAYMENTS = Number(process.env.BENCH_SETTLE_PAYMENTS ?? 100_000)
const BRANCHES = Number(process.env.BENCH_SETTLE_BRANCHES ?? 40)
const ROUNDS = Number(process.env.BENCH_SETTLE_ROUNDS ?? 3)
// A PostgreSQL URL runs the same on PostgreSQL (an empty database per round is made from it).
const PG_URL = process.env.BENCH_SETTLE_PG_URL

async function pgDatabase(round) {
  const { default: pg } = await import('pg')
  const name = `dsh_bench_settle_${process.pid}_${round}`
  const admin = new pg.Client({ connectionString: PG_URL })
  await admin.connect()
  await admin.query(`create database ${name}`)
  await admin.end()
  const url = new URL(PG_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_URL })
      await c.connect()
      await c.query(`drop database if exists ${name} with (force)`)
      await c.end()
    },
  }
}

function cli(env, ...args) {
  const r = spawnSync(process.execPath, [DSH, ...args], {
    env: { ...process.env, ...env, NO_COLOR: '1' },
    encoding: 'utf8',
  })
  if (r.status !== 0) throw new Error(`dsh ${args.join(' ')} failed (${r.status}): ${r.stderr}`)
  return r.stdout
}

async function seed(home, db = join(home, 'dsh.db')) {
  const env = { DSH_HOME: home, DSH_DB: db }
  cli(env, 'init')
  cli(env, 'tenant', 'add', 'acme', '--name', 'Acme')
  cli(
    env,
    'tenant',
    'collection-account',
    'acme',
    '--account-name',
    'Acme',
    '--account-number',
    '0100200300',
    '--bank-name',
    'KCB',
  )
  cli(
    env,
    'gateway',
    'setup',
    'cash',
    '--tenant',
    'acme',
    '--transaction-fee-rate',
    '1.5',
    '--settlement-fee',
    '10',
  )
  for (let b = 0; b < BRANCHES; b++) {
    const code = `b${String(b).padStart(2, '0')}`
    cli(env, 'branch', 'add', code, '--tenant', 'acme', '--name', code, '--currency', 'KES')
    cli(
      env,
      'branch',
      'settlement-account',
      code,
      '--account-name',
      `Branch ${code}`,
      '--account-number',
      `12345${b}678`,
      '--bank-name',
      'KCB',
      '--holding-hours',
      '0',
      '--auto',
    )
  }
  const { openStore } = await import(dist('src/store/connect.js'))
  const store = await openStore(db)
  const branches = await store.db
    .selectFrom('branches')
    .select(['id', 'tenant_id'])
    .orderBy('code')
    .execute()
  const base = Date.parse('2026-11-20T08:00:00.000Z')
  await store.write(async (trx) => {
    const rows = []
    for (let i = 0; i < PAYMENTS; i++) {
      const b = branches[i % branches.length]
      const amount = 100n + BigInt((i * 7919) % 500_000)
      const at = new Date(base + i * 3_000).toISOString()
      rows.push({
        id: `pay_${String(i).padStart(8, '0')}`,
        tenant_id: b.tenant_id,
        branch_id: b.id,
        order_id: `o${i}`,
        amount_minor: amount,
        currency: 'KES',
        refunded_minor: 0n,
        method: i % 2 ? 'cash' : 'mpesa',
        customer_type: 'walk_in',
        phone: null,
        gateway: i % 2 ? 'cash' : 'mpesa',
        status: 'succeeded',
        failure_code: null,
        failure_message: null,
        routing: '{}',
        idempotency_key: null,
        receipt_number: `R${i}`,
        gateway_ref: null,
        fee_minor: (amount * 150n + 5000n) / 10000n,
        fee_rate_bp: 150,
        fee_flat_minor: 0n,
        fee_currency: 'KES',
        settlement_status: 'unsettled',
        settlement_batch_id: null,
        next_check_at: null,
        check_count: 0,
        created_at: at,
        updated_at: at,
        completed_at: at,
      })
      if (rows.length === 500) await trx.insertInto('payments').values(rows.splice(0)).execute()
    }
    if (rows.length) await trx.insertInto('payments').values(rows).execute()
  })
  await store.close()
}

async function main() {
  // For profiling: seed a home and stop.
  if (process.env.BENCH_SETTLE_SEED_ONLY) return seed(process.env.BENCH_SETTLE_SEED_ONLY)
  const results = []
  for (let round = 0; round < ROUNDS; round++) {
    const home = mkdtempSync(join(tmpdir(), 'dsh-bench-settle-'))
    const pgDb = PG_URL ? await pgDatabase(round) : undefined
    const db = pgDb?.url ?? join(home, 'dsh.db')
    try {
      await seed(home, db)
      const { createApp } = await import(dist('src/app.js'))
      const { settle } = await import(dist('src/settlement/settle.js'))
      const { ulidGen } = await import(dist('src/core/ids.js'))
      const { randomBytes } = await import('node:crypto')
      const rt = {
        env: { ...process.env, DSH_HOME: home, DSH_DB: db },
        stdout: process.stdout,
        stderr: process.stderr,
        stdin: process.stdin,
        stdinIsTTY: false,
        stdoutIsTTY: false,
        stderrIsTTY: false,
        clock: { now: () => new Date('2026-12-01T12:00:00.000Z') },
        ids: ulidGen(Date.now, (n) => randomBytes(n)),
        user: 'bench',
      }
      const app = createApp(rt, {})
      await app.store()
      const cpu = () => {
        const u = process.cpuUsage()
        return (u.user + u.system) / 1000
      }
      const c0cpu = cpu()
      const t0 = performance.now()
      const first = await settle(app, { all: true, date: '2026-12-01' })
      const t1 = performance.now()
      const c1cpu = cpu()
      const again = await settle(app, { all: true, date: '2026-12-01' })
      const t2 = performance.now()
      const c2cpu = cpu()
      await app.close()
      const batched = first.report.batches.reduce((n, b) => n + b.paymentCount, 0)
      if (batched !== PAYMENTS) throw new Error(`batched ${batched} of ${PAYMENTS} payments`)
      if (first.report.sent.length !== first.report.batches.length)
        throw new Error('not every batch was sent')
      if (!again.report.nothingToDo) throw new Error('the rerun was not a no-op')
      const files = readdirSync(join(home, 'outbox')).length
      // the CLI end to end, for reference (process start, store open, output)
      const c0 = performance.now()
      cli({ DSH_HOME: home, DSH_DB: db }, 'settle', '--all', '--date', '2026-12-01', '--json')
      const c1 = performance.now()
      results.push({
        runMs: t1 - t0,
        rerunMs: t2 - t1,
        runCpuMs: c1cpu - c0cpu,
        rerunCpuMs: c2cpu - c1cpu,
        cliRerunMs: c1 - c0,
        batches: first.report.batches.length,
        files,
      })
    } finally {
      rmSync(home, { recursive: true, force: true })
      await pgDb?.drop()
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const run = median(results.map((r) => r.runMs))
  const rerun = median(results.map((r) => r.rerunMs))
  const cliRerun = median(results.map((r) => r.cliRerunMs))
  const runCpu = median(results.map((r) => r.runCpuMs))
  const rerunCpu = median(results.map((r) => r.rerunCpuMs))
  const { loadavg } = await import('node:os')
  // The targets are SQLite's (the embedded default); PostgreSQL is measured for reference.
  const ok = PG_URL ? true : run <= 1000 && rerun <= 500
  console.log(
    `settlement (${PG_URL ? 'PostgreSQL' : 'SQLite'}): ${PAYMENTS} payments, ${BRANCHES} branches, ${results[0].batches} batches, ${results[0].files} outbox files`,
  )
  console.log(
    `  run    median ${run.toFixed(0)} ms  (all: ${results.map((r) => r.runMs.toFixed(0)).join(', ')})  target <= 1000 ms`,
  )
  console.log(
    `  rerun  median ${rerun.toFixed(0)} ms  (all: ${results.map((r) => r.rerunMs.toFixed(0)).join(', ')})  target <= 500 ms`,
  )
  console.log(
    `  CPU time (user + system) of the run ${runCpu.toFixed(0)} ms, of the rerun ${rerunCpu.toFixed(0)} ms`,
  )
  console.log(
    `  CLI rerun (process start included) median ${cliRerun.toFixed(0)} ms; load average ${loadavg()[0].toFixed(2)}`,
  )
  console.log(
    `BENCH_JSON ${JSON.stringify({ bench: 'settlement', dialect: PG_URL ? 'postgres' : 'sqlite', payments: PAYMENTS, branches: BRANCHES, runMs: run, rerunMs: rerun, runCpuMs: runCpu, rerunCpuMs: rerunCpu, cliRerunMs: cliRerun, load: loadavg()[0], cores: cpus().length, node: process.version, ok })}`,
  )
  if (!ok) process.exitCode = 1
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
