#!/usr/bin/env node
// Retention benchmark (issue 16, item 4): `dsh prune` on a store holding 2,000,000 events (half
// of them older than events-retention, 30 days) and 200,000 inbox entries (final ones, a third
// older than inbox-retention, 90 days), seeded by SQL into the real schema. Measures the real
// `bin/dsh prune --json` process: rows removed, transactions, the longest write transaction
// (from its first statement to its commit) and the whole run; then checks what is left.
//
// Target: no single write transaction over 50 ms.
//
//   npm run build && node test/bench/prune.mjs
//   BENCH_EVENTS=100000 node test/bench/prune.mjs        # a quick look at a smaller store
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const DSH = join(ROOT, 'bin', 'dsh')
const EVENTS = Number(process.env.BENCH_EVENTS ?? 2_000_000)
const INBOX = Number(process.env.BENCH_INBOX ?? Math.round(EVENTS / 10))
const TARGET_MS = 50
const DAY = 86_400_000

const baseEnv = (extra) => {
  const env = { ...process.env, NO_COLOR: '1', ...extra }
  delete env.NODE_OPTIONS
  return env
}

function cli(env, ...args) {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [DSH, ...args], {
    env: baseEnv(env),
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  })
  if (r.status !== 0) throw new Error(`dsh ${args.join(' ')} failed (${r.status}): ${r.stderr}`)
  return { stdout: r.stdout, ms: performance.now() - t0 }
}

const size = (file) =>
  ['', '-wal'].reduce((n, s) => {
    try {
      return n + statSync(file + s).size
    } catch {
      return n
    }
  }, 0)

/** 2M events over the last 60 days (oldest first, numbered in order) and inbox entries over 180. */
function seed(file, now) {
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  const b = db.prepare('select id, tenant_id from branches limit 1').get()
  const t0 = performance.now()
  const ev = db.prepare(
    'insert into events (seq, at, type, tenant_id, branch_id, payment_id, data) values (?, ?, ?, ?, ?, ?, ?)',
  )
  const inbox = db.prepare(
    `insert into callback_inbox (id, dedupe_key, gateway, branch_id, tenant_id, status, received_at,
       body, headers, remote_addr, gateway_ref, duplicates, attempts, processed_at, updated_at)
     values (?, ?, 'mpesa', ?, ?, ?, ?, ?, '{}', '196.201.214.200', ?, 0, 1, ?, ?)`,
  )
  const span = 60 * DAY
  const statuses = ['applied', 'applied', 'applied', 'applied', 'ignored', 'orphaned', 'review']
  db.transaction(() => {
    for (let i = 1; i <= EVENTS; i++) {
      const at = new Date(now - span + Math.floor((i * span) / EVENTS)).toISOString()
      const pid = `pay_${String(i % 1_000_000).padStart(20, '0')}`
      ev.run(
        i,
        at,
        'payment.status',
        b.tenant_id,
        b.id,
        pid,
        JSON.stringify({
          type: 'payment.status',
          paymentId: pid,
          tenant: 'acme',
          branch: 'b1',
          from: 'pending',
          to: 'succeeded',
          reason: 'callback from mpesa',
          amountMinor: '150000',
          amount: '1500.00',
          currency: 'KES',
          method: 'mpesa',
          gateway: 'mpesa',
          receiptNumber: `NLJ${String(i).padStart(7, '0')}`,
          orderId: `o-${i}`,
          at,
        }),
      )
    }
    db.prepare('update event_head set seq = ? where id = 1').run(EVENTS)
    const inboxSpan = 180 * DAY
    for (let i = 1; i <= INBOX; i++) {
      const at = new Date(now - inboxSpan + Math.floor((i * inboxSpan) / INBOX)).toISOString()
      inbox.run(
        `cb_${String(i).padStart(22, '0')}`,
        `mpesa:ws_CO_${i}`,
        b.id,
        b.tenant_id,
        statuses[i % statuses.length],
        at,
        JSON.stringify({
          Body: {
            stkCallback: {
              MerchantRequestID: '29115-34620561-1',
              CheckoutRequestID: `ws_CO_${i}`,
              ResultCode: 0,
              ResultDesc: 'The service request is processed successfully.',
              CallbackMetadata: {
                Item: [
                  { Name: 'Amount', Value: 1500 },
                  { Name: 'MpesaReceiptNumber', Value: 'NLJ7RT61SV' },
                  { Name: 'PhoneNumber', Value: '2547******78' },
                ],
              },
            },
          },
        }),
        `ws_CO_${i}`,
        at,
        at,
      )
    }
  })()
  db.pragma('wal_checkpoint(TRUNCATE)')
  db.close()
  return performance.now() - t0
}

function count(file) {
  const db = new Database(file, { readonly: true })
  const r = {
    events: db.prepare('select count(*) from events').pluck().get(),
    oldestEvent: db.prepare('select min(at) from events').pluck().get(),
    inbox: db.prepare('select count(*) from callback_inbox').pluck().get(),
    audit: db
      .prepare("select count(*) from audit_log where action = 'retention.prune'")
      .pluck()
      .get(),
  }
  db.close()
  return r
}

function main() {
  const home = mkdtempSync(join(tmpdir(), 'dsh-bench-prune-'))
  const env = { DSH_HOME: home }
  const file = join(home, 'dsh.db')
  try {
    cli(env, 'init')
    cli(env, 'tenant', 'add', 'acme', '--name', 'Acme')
    cli(env, 'branch', 'add', 'b1', '--tenant', 'acme', '--name', 'B1', '--currency', 'KES')
    const now = Date.now()
    const seedMs = seed(file, now)
    const sizeBefore = size(file)
    const dry = JSON.parse(cli(env, 'prune', '--dry-run', '--json').stdout)
    const run = cli(env, 'prune', '--json')
    const r = JSON.parse(run.stdout)
    const left = count(file)
    const correct =
      r.events.removed === dry.events.removed &&
      r.inbox.removed === dry.inbox.removed &&
      left.events === EVENTS - r.events.removed &&
      left.oldestEvent >= r.events.before &&
      left.audit === 1
    const met = r.maxTransactionMs <= TARGET_MS
    const machine = {
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      cpus: cpus().length,
      cpu: cpus()[0]?.model ?? 'unknown',
      load: loadavg().map((l) => +l.toFixed(2)),
    }
    console.log(
      `dsh prune benchmark: ${machine.node}, ${machine.cpus} × ${machine.cpu}, load ${machine.load.join(' ')}`,
    )
    console.log(
      `store: ${EVENTS.toLocaleString('en')} events over 60 days, ${INBOX.toLocaleString('en')} inbox entries over 180 days, seeded by SQL in ${(seedMs / 1000).toFixed(1)} s; ${(sizeBefore / 1e6).toFixed(0)} MB`,
    )
    console.log(
      `dry run: would remove ${dry.events.removed} events and ${dry.inbox.removed} inbox entries (${dry.elapsedMs} ms)`,
    )
    console.log(
      `prune:   removed ${r.events.removed} events and ${r.inbox.removed} inbox entries in ${r.transactions} transactions; longest ${r.maxTransactionMs} ms (p99 ${r.p99TransactionMs} ms); ${(r.elapsedMs / 1000).toFixed(1)} s in all (${(run.ms / 1000).toFixed(1)} s with start-up)`,
    )
    console.log(
      `left:    ${left.events} events (oldest ${left.oldestEvent}), ${left.inbox} inbox entries; one audit row: ${left.audit === 1 ? 'yes' : 'NO'}`,
    )
    console.log(
      `target: no write transaction over ${TARGET_MS} ms: ${met ? 'met' : 'NOT met'}; counts agree with the dry run: ${correct ? 'yes' : 'NO'}`,
    )
    console.log(
      `BENCH_JSON ${JSON.stringify({
        date: new Date().toISOString(),
        machine,
        events: EVENTS,
        inbox: INBOX,
        seedMs: Math.round(seedMs),
        storeBytes: sizeBefore,
        dryRun: { events: dry.events.removed, inbox: dry.inbox.removed, ms: dry.elapsedMs },
        prune: {
          events: r.events.removed,
          inbox: r.inbox.removed,
          transactions: r.transactions,
          maxTransactionMs: r.maxTransactionMs,
          p99TransactionMs: r.p99TransactionMs,
          elapsedMs: r.elapsedMs,
        },
        left,
        target: { maxTransactionMs: TARGET_MS, met },
        correct,
      })}`,
    )
    if (!correct) process.exitCode = 1
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}

main()
