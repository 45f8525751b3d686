// Payment benchmark (issue 4): payments per second through router + adapter + store against the
// sandbox with zero simulated latency, and dsh's own overhead per payment excluding gateway time.
// Targets: overhead p99 <= 25 ms, >= 300 payments/s on SQLite on 2 cores.
// The sandbox runs in its own process, as a real gateway would. Bounded: a few thousand payments.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const DSH = join(ROOT, 'bin', 'dsh')
const dist = (p) => pathToFileURL(join(ROOT, 'dist', p)).href
const THROUGHPUT_PAYMENTS = Number(process.env.BENCH_PAYMENTS ?? 2000)
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 50)
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 300)
const PASSKEY = 'bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919'

function cli(env, ...args) {
  const r = spawnSync(process.execPath, [DSH, ...args], {
    env: { ...process.env, ...env, NO_COLOR: '1' },
    encoding: 'utf8',
  })
  if (r.status !== 0) throw new Error(`dsh ${args.join(' ')} failed (${r.status}): ${r.stderr}`)
  return r.stdout
}

function startSandbox() {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [DSH, 'sandbox', '--port', '0', '--callback-delay', '0', '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (line) resolve({ child, url: JSON.parse(line).url })
    })
    child.on('exit', (code) => reject(new Error(`sandbox exited ${code}`)))
    // timer(deadline): the bench fails if the sandbox never says it listens
    setTimeout(() => reject(new Error('sandbox did not start')), 10_000).unref()
  })
}

const pct = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]

async function main() {
  const home = mkdtempSync(join(tmpdir(), 'dsh-bench-pay-'))
  const { child, url } = await startSandbox()
  try {
    const env = { DSH_HOME: home }
    cli(env, 'init')
    cli(env, 'tenant', 'add', 'acme', '--name', 'Acme')
    for (const f of ['pk', 'ck', 'cs'])
      writeFileSync(join(home, f), f === 'pk' ? PASSKEY : `bench-${f}-value`)
    for (const b of ['b1', 'b2', 'b3']) {
      cli(env, 'branch', 'add', b, '--tenant', 'acme', '--name', b, '--currency', 'KES')
      cli(
        env,
        'gateway',
        'setup',
        'mpesa',
        '--branch',
        b,
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
        url,
      )
    }
    const { createApp } = await import(dist('src/app.js'))
    const { pay } = await import(dist('src/payments/pay.js'))
    const { ulidGen } = await import(dist('src/core/ids.js'))
    const { randomBytes } = await import('node:crypto')
    const rt = {
      env: { ...process.env, DSH_HOME: home },
      stdout: process.stdout,
      stderr: process.stderr,
      stdin: process.stdin,
      stdinIsTTY: false,
      stdoutIsTTY: false,
      stderrIsTTY: false,
      clock: { now: () => new Date() },
      ids: ulidGen(Date.now, (n) => randomBytes(n)),
      user: 'bench',
    }
    const app = createApp(rt, {})
    const store = await app.store()
    let n = 0
    const one = async () => {
      const i = n++
      const t0 = performance.now()
      const r = await pay(app, {
        branch: `b${(i % 3) + 1}`,
        amount: String(100 + (i % 900)),
        currency: 'KES',
        phone: `07${String(10_000_000 + i).slice(-8)}`,
        order: `B-${i}`,
      })
      const total = performance.now() - t0
      if (r.payment.status !== 'pending') throw new Error(`payment ${i} ended ${r.payment.status}`)
      return { id: r.payment.id, total }
    }
    // Warm up: token fetch, prepared paths, JIT.
    for (let i = 0; i < 50; i++) await one()

    // 1. Overhead, one payment at a time: wall time of pay() minus the gateway's own time.
    const seq = []
    for (let i = 0; i < SEQUENTIAL; i++) seq.push(await one())
    const lat = new Map(
      (
        await store.db.selectFrom('payment_attempts').select(['payment_id', 'latency_ms']).execute()
      ).map((r) => [r.payment_id, Number(r.latency_ms)]),
    )
    const overhead = seq.map((s) => s.total - (lat.get(s.id) ?? 0)).sort((a, b) => a - b)
    const gateway = seq.map((s) => lat.get(s.id) ?? 0).sort((a, b) => a - b)

    // 2. Throughput with many in flight.
    const startedAt = performance.now()
    let left = THROUGHPUT_PAYMENTS
    const worker = async () => {
      while (left-- > 0) await one()
    }
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
    const seconds = (performance.now() - startedAt) / 1000
    const perSecond = THROUGHPUT_PAYMENTS / seconds
    const rows = await store.db
      .selectFrom('payments')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst()
    await app.close()

    const result = {
      date: new Date().toISOString(),
      machine: { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown' },
      store: 'sqlite',
      overheadMs: {
        p50: +pct(overhead, 50).toFixed(2),
        p90: +pct(overhead, 90).toFixed(2),
        p99: +pct(overhead, 99).toFixed(2),
        samples: overhead.length,
      },
      gatewayMs: { p50: pct(gateway, 50), p99: pct(gateway, 99) },
      throughput: {
        payments: THROUGHPUT_PAYMENTS,
        inFlight: IN_FLIGHT,
        seconds: +seconds.toFixed(2),
        perSecond: Math.round(perSecond),
      },
      storedPayments: Number(rows?.n ?? 0),
      targets: {
        overheadP99Ms: 25,
        perSecond: 300,
        met: pct(overhead, 99) <= 25 && perSecond >= 300,
      },
    }
    console.log(
      `\ndsh payment benchmark (SQLite, sandbox in its own process, zero simulated latency)`,
    )
    console.log(
      `overhead per payment (excluding gateway time), ${SEQUENTIAL} sequential: p50 ${result.overheadMs.p50} ms, p90 ${result.overheadMs.p90} ms, p99 ${result.overheadMs.p99} ms (target p99 <= 25 ms)`,
    )
    console.log(
      `gateway time (sandbox round trip): p50 ${result.gatewayMs.p50} ms, p99 ${result.gatewayMs.p99} ms`,
    )
    console.log(
      `throughput: ${THROUGHPUT_PAYMENTS} payments, ${IN_FLIGHT} in flight: ${result.throughput.perSecond} payments/s (target >= 300)`,
    )
    console.log(`targets: ${result.targets.met ? 'met' : 'NOT met'}`)
    console.log(`BENCH_JSON ${JSON.stringify(result)}`)
  } finally {
    child.kill('SIGTERM')
    rmSync(home, { recursive: true, force: true })
  }
}

await main()
