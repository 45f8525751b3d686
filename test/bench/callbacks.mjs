#!/usr/bin/env node
// Callback benchmark (issue 5): sustained acknowledged callbacks per second and p99
// acknowledgement latency of `dsh daemon` with its durable inbox (each callback committed to the
// SQLite store before the 200), against a bare node:http + better-sqlite3 insert server with the
// same pragmas, measured in the same run with the same load. Afterwards every acknowledged
// callback is looked up in each store. Loopback only; bounded (~40 s).
//
// Targets (2 cores, load generator on the same machine): ≥ 2,000 callbacks/s, p99 ≤ 25 ms,
// ≥ 0.5 × the bare baseline.
//
//   npm run build && node test/bench/callbacks.mjs
//   BENCH_SECONDS=10 BENCH_CONNECTIONS=16 node test/bench/callbacks.mjs   # other load levels
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { Pool } from 'undici'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const DSH = join(ROOT, 'bin', 'dsh')
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8)
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32)
const PASSKEY = 'bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919'
const TARGET = { perSecond: 2000, p99Ms: 25, ratio: 0.5 }

const baseEnv = (extra) => {
  const env = { ...process.env, NO_COLOR: '1', ...extra }
  delete env.NODE_OPTIONS
  return env
}

function cli(env, ...args) {
  const r = spawnSync(process.execPath, [DSH, ...args], { env: baseEnv(env), encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`dsh ${args.join(' ')} failed (${r.status}): ${r.stderr}`)
  return r.stdout
}

/** Spawns a server and resolves once it prints its address (stdout JSON or the daemon's log). */
function start(args, env, logFile) {
  return new Promise((resolve, reject) => {
    const err = logFile ? openSync(logFile, 'a') : 'ignore'
    const child = spawn(process.execPath, args, {
      env: baseEnv(env),
      stdio: ['ignore', 'pipe', err],
    })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (line) resolve({ child, port: JSON.parse(line).port })
    })
    child.on('exit', (code) =>
      reject(new Error(`${args.join(' ')} exited ${code} before listening`)),
    )
    // timer(deadline): the bench fails if the process never says it listens
    setTimeout(() => reject(new Error(`${args.join(' ')} did not start`)), 15_000).unref()
  })
}

const stop = (child) =>
  new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode)
    child.once('exit', (code) => resolve(code))
    child.kill('SIGTERM')
  })

const pct = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]

const body = (key) =>
  JSON.stringify({
    Body: {
      stkCallback: {
        MerchantRequestID: '29115-34620561-1',
        CheckoutRequestID: key,
        ResultCode: 0,
        ResultDesc: 'The service request is processed successfully.',
        CallbackMetadata: {
          Item: [
            { Name: 'Amount', Value: 1500 },
            { Name: 'MpesaReceiptNumber', Value: 'NLJ7RT61SV' },
            { Name: 'Balance' },
            { Name: 'TransactionDate', Value: 20261126101500 },
            { Name: 'PhoneNumber', Value: 254712345678 },
          ],
        },
      },
    },
  })

/**
 * A closed loop of CONNECTIONS keep-alive clients posting distinct callbacks: after a warm-up,
 * counts the 2xx answers and records each one's latency for SECONDS.
 */
async function load(origin, path, tag) {
  const pool = new Pool(origin, { connections: CONNECTIONS, pipelining: 1 })
  const acked = []
  const latencies = []
  let errors = 0
  let n = 0
  let measuring = false
  let running = true
  const client = async (lane) => {
    while (running) {
      const key = `ws_CO_${tag}_${lane}_${n++}`
      const t0 = performance.now()
      try {
        const res = await pool.request({
          method: 'POST',
          path,
          headers: { 'content-type': 'application/json' },
          body: body(key),
        })
        await res.body.dump()
        const ms = performance.now() - t0
        if (res.statusCode >= 200 && res.statusCode < 300) {
          acked.push(`mpesa:${key}`)
          if (measuring) latencies.push(ms)
        } else errors++
      } catch {
        errors++
      }
    }
  }
  const lanes = Array.from({ length: CONNECTIONS }, (_, i) => client(i))
  // timer(bench): the warm-up window before measuring
  await new Promise((r) => setTimeout(r, WARMUP_SECONDS * 1000))
  measuring = true
  const t0 = performance.now()
  // timer(bench): the measured window itself
  await new Promise((r) => setTimeout(r, SECONDS * 1000))
  measuring = false
  const elapsed = (performance.now() - t0) / 1000
  running = false
  await Promise.all(lanes)
  await pool.close()
  const sorted = latencies.sort((a, b) => a - b)
  return {
    perSecond: sorted.length / elapsed,
    p50: pct(sorted, 50),
    p90: pct(sorted, 90),
    p99: pct(sorted, 99),
    max: sorted.at(-1),
    measured: sorted.length,
    acked,
    errors,
  }
}

/** Inbox entries by status once the daemon stopped: how far processing got behind the flood. */
function inboxStatuses(file) {
  const db = new Database(file, { readonly: true })
  const rows = db.prepare('select status, count(*) n from callback_inbox group by status').all()
  db.close()
  return Object.fromEntries(rows.map((r) => [r.status, r.n]))
}

/** Every acknowledged key must be in the store. */
function missingIn(file, sql, acked) {
  const db = new Database(file, { readonly: true })
  const stored = new Set(db.prepare(sql).pluck().all())
  db.close()
  return acked.filter((k) => !stored.has(k)).length
}

async function main() {
  const home = mkdtempSync(join(tmpdir(), 'dsh-bench-cb-'))
  const env = { DSH_HOME: home }
  try {
    cli(env, 'init')
    cli(env, 'tenant', 'add', 'acme', '--name', 'Acme')
    cli(env, 'branch', 'add', 'b1', '--tenant', 'acme', '--name', 'B1', '--currency', 'KES')
    for (const f of ['pk', 'ck', 'cs'])
      writeFileSync(join(home, f), f === 'pk' ? PASSKEY : `bench-${f}`)
    // The gateway is never called: these callbacks match no payment (they wait as unmatched).
    cli(
      env,
      'gateway',
      'setup',
      'mpesa',
      '--branch',
      'b1',
      '--account-type',
      'paybill',
      '--shortcode',
      '174379',
      '--paybill-number',
      '174379',
      '--passkey-file',
      join(home, 'pk'),
      '--consumer-key-file',
      join(home, 'ck'),
      '--consumer-secret-file',
      join(home, 'cs'),
      '--base-url',
      'http://127.0.0.1:9',
    )
    const url = JSON.parse(
      cli(env, 'gateway', 'callback-url', 'mpesa', '--branch', 'b1', '--json'),
    ).url
    const path = new URL(url).pathname

    const baseFile = join(home, 'baseline.db')
    const base = await start([join(ROOT, 'test', 'bench', 'callbacks-baseline.mjs'), baseFile], env)
    const bare = await load(`http://127.0.0.1:${base.port}`, path, 'BASE')
    await stop(base.child)

    const log = join(home, 'daemon.log')
    const daemon = await start([DSH, 'daemon', '--port', '0', '--json'], env, log)
    const dsh = await load(`http://127.0.0.1:${daemon.port}`, path, 'DSH')
    const exit = await stop(daemon.child)
    if (exit !== 0)
      throw new Error(`the daemon exited ${exit}:\n${readFileSync(log, 'utf8').slice(-2000)}`)

    const missing = {
      baseline: missingIn(baseFile, 'select dedupe_key from inbox', bare.acked),
      dsh: missingIn(join(home, 'dsh.db'), 'select dedupe_key from callback_inbox', dsh.acked),
    }
    const statuses = inboxStatuses(join(home, 'dsh.db'))
    const ratio = dsh.perSecond / bare.perSecond
    const met = {
      perSecond: dsh.perSecond >= TARGET.perSecond,
      p99: dsh.p99 <= TARGET.p99Ms,
      ratio: ratio >= TARGET.ratio,
      durable: missing.dsh === 0,
    }
    const machine = {
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      cpus: cpus().length,
      cpu: cpus()[0]?.model ?? 'unknown',
    }
    const f = (x) => x.toFixed(1)
    console.log(
      `dsh callback benchmark: ${machine.node}, ${machine.cpus} × ${machine.cpu}; ${CONNECTIONS} keep-alive connections, ${WARMUP_SECONDS} s warm-up + ${SECONDS} s measured each\n`,
    )
    console.log(
      'server          callbacks/s   p50 ms   p90 ms   p99 ms   max ms   errors   acked not stored',
    )
    for (const [name, r, m] of [
      ['bare baseline', bare, missing.baseline],
      ['dsh daemon', dsh, missing.dsh],
    ])
      console.log(
        `${name.padEnd(14)} ${f(r.perSecond).padStart(12)} ${f(r.p50).padStart(8)} ${f(r.p90).padStart(8)} ${f(r.p99).padStart(8)} ${f(r.max).padStart(8)} ${String(r.errors).padStart(8)} ${String(m).padStart(18)}`,
      )
    console.log(`\ndsh / bare: ${ratio.toFixed(2)}x`)
    console.log(
      `dsh inbox after the run (while callbacks pour in, processing takes turns with acknowledging: these match no payment and wait as unmatched): ${JSON.stringify(statuses)}`,
    )
    console.log(
      `targets: ≥ ${TARGET.perSecond}/s ${met.perSecond ? 'met' : 'NOT met'}; p99 ≤ ${TARGET.p99Ms} ms ${met.p99 ? 'met' : 'NOT met'}; ≥ ${TARGET.ratio} of bare ${met.ratio ? 'met' : 'NOT met'}; every acknowledged callback stored: ${met.durable ? 'yes' : 'NO'}`,
    )
    const strip = ({ acked, ...r }) => ({
      ...r,
      acked: acked.length,
      perSecond: +r.perSecond.toFixed(1),
      p50: +r.p50.toFixed(2),
      p90: +r.p90.toFixed(2),
      p99: +r.p99.toFixed(2),
      max: +r.max.toFixed(2),
    })
    console.log(
      `BENCH_JSON ${JSON.stringify({
        date: new Date().toISOString(),
        machine,
        connections: CONNECTIONS,
        seconds: SECONDS,
        baseline: strip(bare),
        dsh: strip(dsh),
        ratio: +ratio.toFixed(3),
        missing,
        inbox: statuses,
        targets: TARGET,
        met,
      })}`,
    )
    if (!met.durable) process.exitCode = 1
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
