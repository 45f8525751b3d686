#!/usr/bin/env node
// End-to-end callback benchmark (issue 16, item 6): payments pending in the sandbox (M-Pesa STK
// pushes whose customers paid but whose callbacks have not come yet) and their callbacks arriving
// at a steady rate. Measures, per payment, the time from sending its callback to the payment
// being `succeeded` in the store (p50/p99/max), the inbox backlog (received + processing) while
// the load runs and how long it takes to reach 0 after the load stops. Two runs in one daemon:
// branch `trust` (callback policy trust: the callback is applied) and branch `verify` (the
// default: each callback is confirmed by a status query to the sandbox first).
//
// Targets (trust, 200 callbacks/s for 60 s): p99 ≤ 2 s; backlog back to 0 within 5 s.
//
//   npm run build && node test/bench/callbacks-e2e.mjs
//   BENCH_RATE=50 BENCH_SECONDS=5 BENCH_VERIFY_SECONDS=5 node test/bench/callbacks-e2e.mjs
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { Pool } from 'undici'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const DSH = join(ROOT, 'bin', 'dsh')
const RATE = Number(process.env.BENCH_RATE ?? 200)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60)
const VERIFY_RATE = Number(process.env.BENCH_VERIFY_RATE ?? RATE)
const VERIFY_SECONDS = Number(process.env.BENCH_VERIFY_SECONDS ?? 30)
const TARGET = { p99Ms: 2000, drainMs: 5000 }
/** The sandbox's magic number: the customer pays, no callback is ever sent, queries tell the truth. */
const PHONE = '0700009001'

const { startSandbox, SANDBOX_PASSKEY } = await import(
  join(ROOT, 'dist', 'src', 'sandbox', 'index.js')
)

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

function startDaemon(env, logFile) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...(process.env.BENCH_DAEMON_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
        DSH,
        'daemon',
        '--port',
        '0',
        '--json',
        '--recovery-schedule',
        '1h',
      ],
      { env: baseEnv(env), stdio: ['ignore', 'pipe', openSync(logFile, 'a')] },
    )
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (line) resolve({ child, port: JSON.parse(line).port })
    })
    child.on('exit', (code) => reject(new Error(`the daemon exited ${code} before listening`)))
    // timer(deadline): the bench fails if the daemon never says it listens
    setTimeout(() => reject(new Error('the daemon did not start')), 20_000).unref()
  })
}

const stop = (child) =>
  new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode)
    child.once('exit', (code) => resolve(code))
    child.kill('SIGTERM')
  })

// timer(bench): the timer of this plain-node script (it cannot import test/helpers/wait.ts)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const pct = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]

/** Takes `n` payments through the daemon's API (each an STK push to the sandbox), 16 at a time. */
async function seedPayments(pool, token, branch, n) {
  let made = 0
  let failed = 0
  const lane = async (k) => {
    while (made + failed < n) {
      const i = made + failed
      made++
      const res = await pool.request({
        method: 'POST',
        path: '/api/payments/process',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'idempotency-key': `bench-${branch}-${i}-${k}`,
        },
        body: JSON.stringify({ branch, amount: '10', phone: PHONE, method: 'mpesa' }),
      })
      const text = await res.body.text()
      if (res.statusCode !== 201) {
        made--
        failed++
        if (failed > 20) throw new Error(`taking payments fails: ${res.statusCode} ${text}`)
      }
    }
  }
  await Promise.all(Array.from({ length: 16 }, (_, k) => lane(k)))
}

function pendingOf(db, branch) {
  return db
    .prepare(
      `select p.id, p.amount_minor as amount, a.gateway_ref as ref from payments p
         join payment_attempts a on a.payment_id = p.id
         join branches b on b.id = p.branch_id
       where b.code = ? and p.status = 'pending' and a.gateway_ref is not null`,
    )
    .all(branch)
}

const callbackBody = (p, n) =>
  JSON.stringify({
    Body: {
      stkCallback: {
        MerchantRequestID: `29115-${n}-1`,
        CheckoutRequestID: p.ref,
        ResultCode: 0,
        ResultDesc: 'The service request is processed successfully.',
        CallbackMetadata: {
          Item: [
            { Name: 'Amount', Value: Number(p.amount) / 100 },
            { Name: 'MpesaReceiptNumber', Value: `BNC${String(n).padStart(7, '0')}` },
            { Name: 'Balance' },
            { Name: 'TransactionDate', Value: 20261129101500 },
            { Name: 'PhoneNumber', Value: 254700009001 },
          ],
        },
      },
    },
  })

/**
 * Sends one callback per pending payment at `rate` a second (open loop: on time whatever the
 * answers do), sampling the inbox backlog every 250 ms until it is back to 0 after the load.
 */
async function run(origin, path, db, payments, rate) {
  const pool = new Pool(origin, { connections: 32, pipelining: 1 })
  const sentAt = new Map()
  const ackMs = []
  let errors = 0
  let sent = 0
  const backlogSql = db.prepare(
    "select count(*) from callback_inbox where status in ('received', 'processing')",
  )
  const samples = []
  const t0 = Date.now()
  let loadEnd = 0
  // timer(bench): samples the backlog every 250 ms (the figures it reports)
  const sampler = setInterval(() => {
    samples.push({ t: Date.now() - t0, backlog: backlogSql.pluck().get(), sent })
  }, 250)
  const inflight = new Set()
  await new Promise((resolve) => {
    // timer(bench): sends payments at the target rate (the load itself)
    const tick = setInterval(() => {
      const due = Math.min(payments.length, Math.floor(((Date.now() - t0) * rate) / 1000))
      while (sent < due) {
        const p = payments[sent++]
        const at = Date.now()
        sentAt.set(p.id, at)
        const req = pool
          .request({
            method: 'POST',
            path,
            headers: { 'content-type': 'application/json' },
            body: callbackBody(p, sent),
          })
          .then(async (res) => {
            await res.body.dump()
            if (res.statusCode === 200) ackMs.push(Date.now() - at)
            else errors++
          })
          .catch(() => errors++)
          .finally(() => inflight.delete(req))
        inflight.add(req)
      }
      if (sent >= payments.length) {
        clearInterval(tick)
        resolve()
      }
    }, 5)
  })
  await Promise.all(inflight)
  loadEnd = Date.now()
  const atLoadEnd = backlogSql.pluck().get()
  let drainedAt
  for (;;) {
    const b = backlogSql.pluck().get()
    if (b === 0) {
      drainedAt = Date.now()
      break
    }
    if (Date.now() - loadEnd > 120_000) break
    // timer(bench): polls the backlog until it drains (the drain time is measured)
    await sleep(50)
  }
  clearInterval(sampler)
  await pool.close()
  // Callback sent → payment succeeded, by the store's completed_at (the daemon's clock, ms).
  const done = db.prepare('select status, completed_at from payments where id = ?')
  const latencies = []
  let notSucceeded = 0
  for (const p of payments) {
    let row = done.get(p.id)
    for (let i = 0; i < 100 && row.status !== 'succeeded'; i++) {
      // timer(bench): polls each payment for its final status, up to 10 s
      await sleep(100)
      row = done.get(p.id)
    }
    if (row.status !== 'succeeded') notSucceeded++
    else latencies.push(Date.parse(row.completed_at) - sentAt.get(p.id))
  }
  latencies.sort((a, b) => a - b)
  ackMs.sort((a, b) => a - b)
  const during = samples.filter((s) => s.t <= loadEnd - t0)
  const lastQuarter = during.filter((s) => s.t >= (loadEnd - t0) * 0.75)
  return {
    callbacks: payments.length,
    seconds: +((loadEnd - t0) / 1000).toFixed(1),
    rate: +(payments.length / ((loadEnd - t0) / 1000)).toFixed(1),
    errors,
    ackP50: pct(ackMs, 50),
    ackP99: pct(ackMs, 99),
    p50: pct(latencies, 50),
    p99: pct(latencies, 99),
    max: latencies.at(-1),
    notSucceeded,
    backlogMax: Math.max(0, ...during.map((s) => s.backlog)),
    backlogLastQuarterMax: Math.max(0, ...lastQuarter.map((s) => s.backlog)),
    backlogAtLoadEnd: atLoadEnd,
    drainMs: drainedAt === undefined ? null : drainedAt - loadEnd,
    series: samples.filter((_, i) => i % 4 === 0).map((s) => [s.t, s.backlog]),
  }
}

async function main() {
  const home = mkdtempSync(join(tmpdir(), 'dsh-bench-e2e-'))
  const env = { DSH_HOME: home }
  const sandbox = await startSandbox({ callbackDelayMs: 0 })
  let daemon
  try {
    const put = (n, v) => {
      writeFileSync(join(home, n), v)
      return join(home, n)
    }
    cli(env, 'init')
    cli(env, 'tenant', 'add', 'acme', '--name', 'Acme')
    for (const [branch, policy] of [
      ['trust', 'trust'],
      ['verify', 'verify'],
    ]) {
      cli(env, 'branch', 'add', branch, '--tenant', 'acme', '--name', branch, '--currency', 'KES')
      cli(
        env,
        'gateway',
        'setup',
        'mpesa',
        '--branch',
        branch,
        '--account-type',
        'paybill',
        '--shortcode',
        '174379',
        '--paybill-number',
        '174379',
        '--passkey-file',
        put('pk', SANDBOX_PASSKEY),
        '--consumer-key-file',
        put('ck', 'sandboxConsumerKey1'),
        '--consumer-secret-file',
        put('cs', 'sandboxConsumerSecret1'),
        '--base-url',
        sandbox.url,
        '--callback-policy',
        policy,
      )
    }
    const token = JSON.parse(
      cli(
        env,
        'token',
        'create',
        '--name',
        'bench',
        '--role',
        'operator',
        '--tenant',
        'acme',
        '--json',
      ),
    ).token
    const log = join(home, 'daemon.log')
    daemon = await startDaemon(env, log)
    const origin = `http://127.0.0.1:${daemon.port}`
    cli(env, 'config', 'set', 'public-url', origin)
    const api = new Pool(origin, { connections: 16 })
    const seedStart = performance.now()
    await seedPayments(api, token, 'trust', RATE * SECONDS)
    await seedPayments(api, token, 'verify', VERIFY_RATE * VERIFY_SECONDS)
    await api.close()
    const seedMs = performance.now() - seedStart
    const db = new Database(join(home, 'dsh.db'), { readonly: true })
    const results = {}
    for (const [branch, rate] of [
      ['trust', RATE],
      ['verify', VERIFY_RATE],
    ]) {
      const pending = pendingOf(db, branch)
      const path = new URL(
        JSON.parse(cli(env, 'gateway', 'callback-url', 'mpesa', '--branch', branch, '--json')).url,
      ).pathname
      results[branch] = await run(origin, path, db, pending, rate)
    }
    db.close()
    const exit = await stop(daemon.child)
    daemon = undefined
    if (exit !== 0)
      throw new Error(`the daemon exited ${exit}:\n${readFileSync(log, 'utf8').slice(-2000)}`)
    const machine = {
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      cpus: cpus().length,
      cpu: cpus()[0]?.model ?? 'unknown',
      load: loadavg().map((l) => +l.toFixed(2)),
    }
    const t = results.trust
    const met = {
      p99: t.p99 <= TARGET.p99Ms,
      drain: t.drainMs !== null && t.drainMs <= TARGET.drainMs,
      allSucceeded: t.notSucceeded === 0 && results.verify.notSucceeded === 0,
    }
    console.log(
      `dsh end-to-end callback benchmark: ${machine.node}, ${machine.cpus} × ${machine.cpu}, load ${machine.load.join(' ')}`,
    )
    console.log(
      `${RATE * SECONDS + VERIFY_RATE * VERIFY_SECONDS} pending M-Pesa payments taken through the API in ${(seedMs / 1000).toFixed(0)} s; then their callbacks at a steady rate\n`,
    )
    console.log(
      'policy  callbacks   rate/s  errors  ack p99 ms  → succeeded p50 ms  p99 ms  max ms  backlog max  at load end  drained after ms',
    )
    for (const [name, r] of Object.entries(results))
      console.log(
        `${name.padEnd(7)} ${String(r.callbacks).padStart(9)} ${String(r.rate).padStart(8)} ${String(r.errors).padStart(7)} ${String(r.ackP99).padStart(11)} ${String(r.p50).padStart(19)} ${String(r.p99).padStart(7)} ${String(r.max).padStart(7)} ${String(r.backlogMax).padStart(12)} ${String(r.backlogAtLoadEnd).padStart(12)} ${String(r.drainMs).padStart(17)}`,
      )
    for (const [name, r] of Object.entries(results))
      console.log(`${name} backlog every second [ms, entries]: ${JSON.stringify(r.series)}`)
    console.log(
      `\ntargets (trust): p99 ≤ ${TARGET.p99Ms} ms ${met.p99 ? 'met' : 'NOT met'}; backlog 0 within ${TARGET.drainMs} ms of the load stopping ${met.drain ? 'met' : 'NOT met'}; every payment succeeded: ${met.allSucceeded ? 'yes' : 'NO'}`,
    )
    console.log(
      `BENCH_JSON ${JSON.stringify({
        date: new Date().toISOString(),
        machine,
        seedMs: Math.round(seedMs),
        results,
        targets: TARGET,
        met,
      })}`,
    )
    if (!met.allSucceeded) process.exitCode = 1
  } finally {
    if (daemon) await stop(daemon.child)
    await sandbox.close()
    rmSync(home, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
