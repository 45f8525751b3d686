#!/usr/bin/env node
// Scale benchmark (issue 16): a year of a 40-branch chain (1,000,000 payments over 365 days,
// with attempts, timelines, callback inbox entries, live events, settlement batches and items,
// statements and their lines, and the audit rows of every batch) inserted with SQL into the real
// schema migrated by the real migrator, next to a store of 1,000 payments built the same way.
// Each command is then measured on both, side by side in the same run, as a user runs it
// (spawning bin/dsh; medians of several runs), and the daemon on each: GET /metrics,
// GET /api/payments/:id/status, the recovery job's ticks, the callback acknowledgement p99 while
// /metrics is scraped every second, and the daemon's own event-loop delay (max, p99) from the
// dsh_event_loop_delay gauges (perf_hooks.monitorEventLoopDelay, per scrape interval).
//
// Targets: at 1M every command ≤ 1.2× its time at 1,000; /metrics ≤ 50 ms; callback ack p99
// ≤ 25 ms while /metrics is scraped every second; event-loop delay max ≤ 50 ms.
//
//   npm run build && node test/bench/scale.mjs      # the bulk load nices itself (nice -n 10)
//   SCALE_PAYMENTS=20000 SCALE_RUNS=3 node test/bench/scale.mjs        # while developing
//   SCALE_KEEP=1 …                                                      # keep the stores
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import Database from 'better-sqlite3'
import { Pool } from 'undici'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const DSH = join(ROOT, 'bin', 'dsh')
const dist = (p) => pathToFileURL(join(ROOT, 'dist', p)).href
const LARGE = Number(process.env.SCALE_PAYMENTS ?? 1_000_000)
const SMALL = Number(process.env.SCALE_SMALL ?? 1_000)
const BRANCHES = Number(process.env.SCALE_BRANCHES ?? 40)
const DAYS = Number(process.env.SCALE_DAYS ?? 365)
const RUNS = Number(process.env.SCALE_RUNS ?? 5)
const ACK_SECONDS = Number(process.env.SCALE_ACK_SECONDS ?? 10)
const ACK_RATE = Number(process.env.SCALE_ACK_RATE ?? 50)
const OPEN = 12
const DAY_MS = 86_400_000
const TARGET = { ratio: 1.2, metricsMs: 50, ackP99Ms: 25, loopMaxMs: 50 }

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

/** Wall time of one `dsh …` process, as a user sees it (exit 0 required). */
function timed(env, args) {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [DSH, ...args], {
    env: baseEnv(env),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
  const ms = performance.now() - t0
  if (r.status !== 0) throw new Error(`dsh ${args.join(' ')} failed (${r.status}): ${r.stderr}`)
  return ms
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const pct = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]

// ---------------------------------------------------------------------------------------------
// The store: a few rows through the CLI (tenant, first branch, gateways, keys), the rest by SQL.

/** A deterministic PRNG (mulberry32), so both stores are built the same way every run. */
function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
/** A ULID-shaped id (time-ordered, as dsh's own ids are) with a prefix. */
function ulid(prefix, ms, rnd) {
  let t = ''
  let x = ms
  for (let i = 0; i < 10; i++) {
    t = CROCKFORD[x % 32] + t
    x = Math.floor(x / 32)
  }
  let r = ''
  for (let i = 0; i < 16; i++) r += CROCKFORD[Math.floor(rnd() * 32)]
  return `${prefix}_${t}${r}`
}

/** The tenant's account that pays branches their settlements (`dsh settle` needs it). */
function collectionAccount(env) {
  cli(
    env,
    'tenant',
    'collection-account',
    'acme',
    '--currency',
    'KES',
    '--account-name',
    'Acme',
    '--account-number',
    '0100200300',
    '--bank-name',
    'KCB',
  )
}

/** A store kept by an earlier run (SCALE_KEEP=1), measured again (SCALE_HOMES=small,large). */
function reuse(home) {
  const env = { DSH_HOME: home }
  const db = new Database(join(home, 'dsh.db'), { readonly: true })
  const branch = `b${String(7 % BRANCHES).padStart(2, '0')}`
  const ids = db
    .prepare(
      'select p.id from payments p join branches b on b.id = p.branch_id where b.code = ? order by p.created_at limit 5',
    )
    .pluck()
    .all(branch)
  const payments = db.prepare('select count(*) from payments').pluck().get()
  const rows = {}
  db.close()
  try {
    collectionAccount(env)
  } catch {}
  const file = join(home, 'dsh.db')
  const bytes = ['', '-wal', '-shm'].reduce(
    (n, ext) => n + (existsSync(file + ext) ? statSync(file + ext).size : 0),
    0,
  )
  return {
    home,
    env,
    payments,
    rows,
    seconds: Number.NaN,
    cpuSeconds: Number.NaN,
    bytes,
    samples: { branch, ids },
  }
}

function setUp(home) {
  const env = { DSH_HOME: home }
  cli(env, 'init')
  cli(env, 'tenant', 'add', 'acme', '--name', 'Acme')
  collectionAccount(env)
  cli(env, 'branch', 'add', 'b00', '--tenant', 'acme', '--name', 'Branch 00', '--currency', 'KES')
  cli(
    env,
    'branch',
    'settlement-account',
    'b00',
    '--account-name',
    'Branch 00',
    '--account-number',
    '1234500678',
    '--bank-name',
    'KCB',
    '--holding-hours',
    '0',
  )
  // Tenant-wide gateways (no branch copies needed); M-Pesa points nowhere: the recovery job's
  // queries fail fast, which is all the tick needs.
  cli(env, 'gateway', 'setup', 'cash', '--tenant', 'acme')
  const secret = join(home, 'secret')
  for (const [f, v] of [
    ['pk', 'bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919'],
    ['ck', 'bench-consumer-key'],
    ['cs', 'bench-consumer-secret'],
  ])
    spawnSync('sh', ['-c', `printf %s "${v}" > "${secret}-${f}"`])
  cli(
    env,
    'gateway',
    'setup',
    'mpesa',
    '--tenant',
    'acme',
    '--account-type',
    'paybill',
    '--shortcode',
    '174379',
    '--paybill-number',
    '174379',
    '--passkey-file',
    `${secret}-pk`,
    '--consumer-key-file',
    `${secret}-ck`,
    '--consumer-secret-file',
    `${secret}-cs`,
    '--base-url',
    'http://127.0.0.1:9',
  )
  return env
}

/**
 * Inserts `n` payments over BRANCHES branches and DAYS days ending now, and everything that goes
 * with them, in one transaction with prepared statements. Proportions: 93% succeeded, 4% failed,
 * 3% cancelled, OPEN payments still pending; 70% M-Pesa, 20% card (Stripe), 10% cash. Every day
 * but the last is settled (one completed batch per branch, day and gateway, with its items and
 * two audit rows); the last day's succeeded payments are unsettled. Each M-Pesa and Stripe
 * payment has its callback in the inbox (applied); each M-Pesa payment a statement line.
 */
async function seed(home, n) {
  const file = join(home, 'dsh.db')
  const { auditKey } = await import(dist('src/vault/vault.js'))
  const { nextRecord, toStoredRow } = await import(dist('src/core/audit/chain.js'))
  const app = await appFor(home)
  const store = await app.store()
  const key = await auditKey(app, store.db, false)
  await app.close()
  if (!key) throw new Error('no audit key in the bench store')

  const db = new Database(file)
  // A bulk load into a fresh copy: no journal meanwhile (the store goes back to WAL after).
  db.pragma('journal_mode = OFF')
  db.pragma('synchronous = OFF')
  db.pragma('temp_store = MEMORY')
  db.pragma('cache_size = -262144')
  const rnd = prng(16)
  const now = Date.now()
  const start = now - DAYS * DAY_MS
  const b0 = db.prepare("select * from branches where code = 'b00'").get()
  const acct0 = db.prepare('select * from settlement_accounts where branch_id = ?').get(b0.id)
  const columns = (t) => db.prepare(`select name from pragma_table_info('${t}')`).pluck().all()
  const insertOf = (t) => {
    const cols = columns(t)
    const st = db.prepare(
      `insert into ${t} (${cols.join(', ')}) values (${cols.map((c) => `@${c}`).join(', ')})`,
    )
    return (row) => st.run(row)
  }
  const ins = Object.fromEntries(
    [
      'branches',
      'settlement_accounts',
      'payments',
      'payment_attempts',
      'payment_events',
      'events',
      'callback_inbox',
      'settlement_batches',
      'settlement_batch_items',
      'statements',
      'statement_lines',
      'audit_log',
    ].map((t) => [t, insertOf(t)]),
  )
  const counts = {}
  const put = (t, row) => {
    ins[t](row)
    counts[t] = (counts[t] ?? 0) + 1
  }
  const iso = (ms) => new Date(ms).toISOString()
  let head = db.prepare('select seq, hash from audit_head where id = 1').get()
  head = head && Number(head.seq) > 0 ? { seq: Number(head.seq), hash: head.hash } : null
  let eventSeq = Number(db.prepare('select seq from event_head where id = 1').pluck().get() ?? 0)
  const audit = (at, action, branch, target, request) => {
    const rec = nextRecord(key, head, {
      at,
      actor: 'daemon:settlement',
      action,
      tenant: 'acme',
      branch,
      target,
      request,
      outcome: 'ok',
    })
    put('audit_log', toStoredRow(rec))
    head = { seq: rec.seq, hash: rec.hash }
  }

  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  db.exec('begin')
  // Bulk load: the secondary indexes of the filled tables are dropped and made again afterwards
  // with their own DDL (a sort per index instead of a B-tree insert per row), so the store ends
  // with exactly the migrated schema.
  const indexes = db
    .prepare(
      `select name, sql from sqlite_master where type = 'index' and sql is not null and tbl_name in (${Object.keys(
        ins,
      )
        .map((t) => `'${t}'`)
        .join(', ')})`,
    )
    .all()
  for (const ix of indexes) db.exec(`drop index "${ix.name}"`)
  const branches = [{ ...b0, account: acct0 }]
  for (let b = 1; b < BRANCHES; b++) {
    const code = `b${String(b).padStart(2, '0')}`
    const row = { ...b0, id: ulid('br', start, rnd), code, name: `Branch ${code}` }
    put('branches', row)
    const account = {
      ...acct0,
      id: ulid('sa', start, rnd),
      branch_id: row.id,
      account_number: `12345${b}678`,
    }
    put('settlement_accounts', account)
    branches.push({ ...row, account })
  }
  const perCell = n / (DAYS * BRANCHES)
  let made = 0
  let carry = 0
  let openLeft = Math.min(OPEN, n)
  const samples = { branch: branches[7 % BRANCHES].code, ids: [] }
  for (let d = 0; d < DAYS; d++) {
    const dayStart = start + d * DAY_MS
    const lastDay = d === DAYS - 1
    for (const br of branches) {
      carry += perCell
      let k = Math.floor(carry)
      carry -= k
      if (d === DAYS - 1 && br === branches.at(-1)) k += n - made - k
      if (k <= 0) continue
      const batches = {}
      const lines = []
      for (let i = 0; i < k; i++) {
        made++
        const created = dayStart + Math.floor(((i + rnd()) / k) * (DAY_MS - 120_000))
        const r = rnd()
        const gateway = r < 0.7 ? 'mpesa' : r < 0.9 ? 'stripe' : 'cash'
        const method = gateway === 'mpesa' ? 'mpesa' : gateway === 'stripe' ? 'card' : 'cash'
        const s = rnd()
        const open = lastDay && openLeft > 0 && gateway === 'mpesa' && i >= k - OPEN
        const status = open ? 'pending' : s < 0.93 ? 'succeeded' : s < 0.97 ? 'failed' : 'cancelled'
        if (open) openLeft--
        const completed = status === 'pending' ? null : created + 4_000 + Math.floor(rnd() * 20_000)
        const amount = (100 + Math.floor(rnd() * 4_900)) * 100
        const id = ulid('pay', created, rnd)
        const ref =
          gateway === 'mpesa'
            ? `ws_CO_${id.slice(4)}`
            : gateway === 'stripe'
              ? `pi_${id.slice(4)}`
              : null
        const receipt =
          status === 'succeeded' && gateway !== 'cash'
            ? gateway === 'mpesa'
              ? `R${id.slice(-9)}`
              : `ch_${id.slice(4)}`
            : null
        const phone =
          gateway === 'mpesa' ? `2547${String(Math.floor(rnd() * 1e8)).padStart(8, '0')}` : null
        const settled = status === 'succeeded' && !lastDay
        let batchId = null
        if (settled) {
          const g = batches[gateway] ?? {
            id: ulid('stl', dayStart + DAY_MS, rnd),
            items: [],
            gross: 0,
          }
          batches[gateway] = g
          g.items.push({ id, amount })
          g.gross += amount
          batchId = g.id
        }
        const fee = gateway === 'stripe' ? Math.round(amount * 0.029) + 30 : 0
        put('payments', {
          id,
          tenant_id: b0.tenant_id,
          branch_id: br.id,
          order_id: `O-${br.code}-${d}-${i}`,
          amount_minor: amount,
          currency: 'KES',
          refunded_minor: 0,
          method,
          customer_type: 'regular',
          phone,
          gateway,
          status,
          failure_code: status === 'failed' ? '1032' : null,
          failure_message: status === 'failed' ? 'Request cancelled by user' : null,
          routing: JSON.stringify({ chosen: gateway }),
          idempotency_key: null,
          receipt_number: receipt,
          gateway_ref: ref,
          fee_minor: status === 'succeeded' ? fee : null,
          fee_rate_bp: gateway === 'stripe' ? 290 : 0,
          fee_flat_minor: gateway === 'stripe' ? 30 : 0,
          fee_currency: 'KES',
          // The flat fee is in the payment's own currency: nothing was converted.
          fee_flat_source_minor: null,
          fee_flat_source_currency: null,
          fee_fx_rate: null,
          fee_fx_as_of: null,
          settlement_status: settled ? 'settled' : 'unsettled',
          settlement_batch_id: batchId,
          next_check_at: open ? iso(now + 3_600_000) : null,
          check_count: 0,
          created_at: iso(created),
          updated_at: iso(completed ?? created),
          completed_at: completed === null ? null : iso(completed),
        })
        if (samples.ids.length < 5 && br.code === samples.branch) samples.ids.push(id)
        if (gateway !== 'cash')
          put('payment_attempts', {
            id: ulid('att', created, rnd),
            payment_id: id,
            seq: 1,
            gateway,
            gateway_config_id: null,
            status,
            failure_kind: status === 'failed' ? 'declined' : null,
            code: status === 'failed' ? '1032' : null,
            message: status === 'failed' ? 'Request cancelled by user' : null,
            gateway_ref: ref,
            secondary_ref: null,
            receipt_number: receipt,
            request: null,
            response: null,
            latency_ms: 150 + Math.floor(rnd() * 600),
            created_at: iso(created),
            updated_at: iso(completed ?? created),
          })
        const timeline = [['created', status === 'pending' ? 'pending' : 'pending', created]]
        if (completed !== null) timeline.push(['pending', status, completed])
        for (const [from, to, at] of timeline) {
          put('payment_events', {
            id: ulid('pev', at, rnd),
            payment_id: id,
            at: iso(at),
            from_status: from,
            to_status: to,
            actor: gateway === 'cash' ? 'user:cashier' : 'daemon',
            reason: to === 'pending' ? 'push accepted' : `callback: ${to}`,
          })
        }
        if (completed !== null) {
          eventSeq++
          put('events', {
            seq: eventSeq,
            at: iso(completed),
            type: 'payment.status',
            tenant_id: b0.tenant_id,
            branch_id: br.id,
            payment_id: id,
            data: JSON.stringify({
              type: 'payment.status',
              paymentId: id,
              tenant: 'acme',
              branch: br.code,
              from: 'pending',
              to: status,
              amountMinor: String(amount),
              currency: 'KES',
              gateway,
              at: iso(completed),
            }),
          })
        }
        if (completed !== null && gateway !== 'cash')
          put('callback_inbox', {
            id: ulid('cb', completed, rnd),
            dedupe_key: `${gateway}:${ref}`,
            gateway,
            branch_id: br.id,
            tenant_id: b0.tenant_id,
            status: 'applied',
            received_at: iso(completed - 500),
            body: JSON.stringify({
              Body: {
                stkCallback: {
                  MerchantRequestID: '29115-34620561-1',
                  CheckoutRequestID: ref,
                  ResultCode: status === 'succeeded' ? 0 : 1032,
                  ResultDesc: status === 'succeeded' ? 'processed successfully' : 'cancelled',
                  CallbackMetadata: { Item: [{ Name: 'Amount', Value: amount / 100 }] },
                },
              },
            }),
            headers: '{"content-type":"application/json"}',
            remote_addr: '196.201.214.200',
            gateway_ref: ref,
            duplicates: 0,
            last_duplicate_at: null,
            attempts: 1,
            next_attempt_at: null,
            lease_until: null,
            last_error: null,
            note: null,
            payment_id: id,
            processed_at: iso(completed),
            updated_at: iso(completed),
          })
        if (status === 'succeeded' && gateway === 'mpesa') lines.push({ id, amount, completed })
      }
      for (const [gateway, g] of Object.entries(batches)) {
        const at = iso(dayStart + DAY_MS + 3_600_000)
        const fees = gateway === 'stripe' ? Math.round(g.gross * 0.029) : 0
        put('settlement_batches', {
          id: g.id,
          reference: `SETTLE-${br.code}-${gateway}-${d}`,
          tenant_id: b0.tenant_id,
          branch_id: br.id,
          account_id: br.account.id,
          gateway,
          currency: 'KES',
          period_start: iso(dayStart),
          period_end: iso(dayStart + DAY_MS),
          status: 'completed',
          payment_count: g.items.length,
          gross_minor: g.gross,
          transaction_fees_minor: fees,
          conversion_fees_minor: 0,
          settlement_fee_minor: 0,
          fees_minor: fees,
          net_minor: g.gross - fees,
          transfer_adapter: 'file',
          kind: 'transfer',
          transfer_id: `file-${g.id}`,
          transfer_files: null,
          sent_at: at,
          bank_ref: `BANK-${g.id.slice(-8)}`,
          bank_amount_minor: g.gross - fees,
          failure_reason: null,
          retry_of: null,
          send_owner: null,
          send_until: null,
          created_at: at,
          updated_at: at,
          completed_at: at,
        })
        for (const it of g.items)
          put('settlement_batch_items', {
            batch_id: g.id,
            payment_id: it.id,
            amount_minor: it.amount,
            fee_minor: gateway === 'stripe' ? Math.round(it.amount * 0.029) : 0,
            conversion_fee_minor: 0,
            released_at: null,
          })
        audit(at, 'settlement.create', br.code, g.id, { gateway, payments: g.items.length })
        audit(at, 'settlement.complete', br.code, g.id, { bankRef: `BANK-${g.id.slice(-8)}` })
      }
      if (lines.length > 0 && !lastDay) {
        const stId = ulid('st', dayStart + DAY_MS, rnd)
        put('statements', {
          id: stId,
          branch_id: br.id,
          profile: 'mpesa',
          kind: 'gateway',
          account: '174379',
          file: `mpesa-${br.code}-${d}.csv`,
          sha256: stId.padEnd(64, '0').slice(0, 64),
          currency: 'KES',
          period_from: iso(dayStart),
          period_to: iso(dayStart + DAY_MS),
          lines: lines.length,
          imported: lines.length,
          created_at: iso(dayStart + DAY_MS + 7_200_000),
          created_by: 'user:accountant',
        })
        for (const [no, l] of lines.entries()) {
          const fp = `${stId}.${no}`
          put('statement_lines', {
            id: fp,
            statement_id: stId,
            branch_id: br.id,
            kind: 'gateway',
            account: '174379',
            fingerprint: fp,
            line_no: no + 1,
            occurrence: 0,
            booked_at: iso(l.completed),
            value_date: null,
            amount_minor: l.amount,
            currency: 'KES',
            transaction_id: `R${l.id.slice(-9)}`,
            reference: `R${l.id.slice(-9)}`,
            description: 'Pay Bill Online',
            counterparty: '2547******78',
            balance_minor: null,
            completed: 1,
          })
        }
      }
    }
  }
  for (const ix of indexes) db.exec(ix.sql)
  db.prepare('update event_head set seq = ? where id = 1').run(eventSeq)
  if (head)
    db.prepare('update audit_head set seq = ?, hash = ? where id = 1').run(head.seq, head.hash)
  db.exec('commit')
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const cpuSeconds = (cpu.user + cpu.system) / 1e6
  db.pragma('journal_mode = WAL')
  db.close()
  // Tables derived from the rows above (issue 16's counters) are rebuilt here, once, through
  // dsh's own code: the single place for that step.
  await rebuildDerived(home)
  const bytes = ['', '-wal', '-shm'].reduce(
    (s, ext) => s + (existsSync(file + ext) ? statSync(file + ext).size : 0),
    0,
  )
  return { payments: made, rows: counts, seconds, cpuSeconds, bytes, samples }
}

/** dsh's own App on a bench store (for the audit key and the derived tables). */
async function appFor(home) {
  const { createApp } = await import(dist('src/app.js'))
  const { ulidGen } = await import(dist('src/core/ids.js'))
  const { randomBytes } = await import('node:crypto')
  return createApp(
    {
      env: { ...process.env, DSH_HOME: home },
      stdout: process.stdout,
      stderr: process.stderr,
      stdin: process.stdin,
      stdinIsTTY: false,
      stdoutIsTTY: false,
      stderrIsTTY: false,
      clock: { now: () => new Date() },
      ids: ulidGen(Date.now, (k) => randomBytes(k)),
      user: 'bench',
    },
    {},
  )
}

/**
 * Derived tables of a store filled by SQL: the counters behind /metrics, health and report
 * (migration 0012). Its triggers already kept them during the load; the full recount makes sure.
 */
async function rebuildDerived(home) {
  const { rebuildCounters } = await import(dist('src/reports/counters.js'))
  const app = await appFor(home)
  try {
    await rebuildCounters(app)
  } finally {
    await app.close()
  }
}

// ---------------------------------------------------------------------------------------------
// The daemon.

function startDaemon(env, logFile) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [DSH, 'daemon', '--port', '0', '--json', '--recovery-interval', '1s', '--log-level', 'debug'],
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
    setTimeout(() => reject(new Error('the daemon did not start')), 60_000).unref()
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

/** The event-loop delay figures of one scrape (they cover the time since the previous one). */
function loopFigures(text) {
  const v = (name) => {
    const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)
    return m ? Number(m[1]) * 1000 : Number.NaN
  }
  return {
    maxMs: v('dsh_event_loop_delay_max_seconds'),
    p99Ms: v('dsh_event_loop_delay_seconds\\{quantile="0.99"\\}'),
  }
}

async function measureDaemon(env, home, sample) {
  const token = JSON.parse(
    cli(env, 'token', 'create', '--name', `bench-${Date.now()}`, '--role', 'viewer', '--json'),
  ).token
  const cbPath = new URL(
    JSON.parse(cli(env, 'gateway', 'callback-url', 'mpesa', '--branch', 'b00', '--json')).url,
  ).pathname
  // The few open payments: pushed 20 s ago, their first checks due over the next half minute
  // (a kept store's earlier run sent them to review: they are put back).
  const db = new Database(join(home, 'dsh.db'))
  const now = Date.now()
  const open = db
    .prepare(
      "select id from payments where status in ('pending', 'needs_review') and gateway = 'mpesa' and created_at > ?",
    )
    .pluck()
    .all(new Date(now - 30 * DAY_MS).toISOString())
  const pushed = new Date(now - 20_000).toISOString()
  const touch = db.prepare(
    "update payments set status = 'pending', created_at = ?, next_check_at = ?, check_count = 0 where id = ?",
  )
  const touchAttempt = db.prepare(
    "update payment_attempts set status = 'pending', created_at = ? where payment_id = ?",
  )
  for (const [i, id] of open.entries()) {
    touch.run(pushed, new Date(now + 10_000 + i * 2_000).toISOString(), id)
    touchAttempt.run(pushed, id)
  }
  db.close()

  const log = join(home, `daemon-${Date.now()}.log`)
  const daemon = await startDaemon(env, log)
  const origin = `http://127.0.0.1:${daemon.port}`
  const pool = new Pool(origin, { connections: 16, pipelining: 1 })
  const get = async (path, headers = {}) => {
    const t0 = performance.now()
    const res = await pool.request({ method: 'GET', path, headers })
    const text = await res.body.text()
    if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode} ${text}`)
    return { ms: performance.now() - t0, text }
  }
  const auth = { authorization: `Bearer ${token}` }
  try {
    // timer(bench): a quiet second after start-up before the measured window opens
    await sleep(1_000)
    await get('/metrics') // resets the event-loop window after start-up
    const metricsMs = []
    for (let i = 0; i < RUNS; i++) metricsMs.push((await get('/metrics')).ms)
    const statusMs = []
    for (let i = 0; i < RUNS * 20; i++)
      statusMs.push(
        (await get(`/api/payments/${sample.ids[i % sample.ids.length]}/status`, auth)).ms,
      )

    // Callbacks at a steady rate (open loop): first alone, then while /metrics is scraped every
    // second (the event-loop figures come from those scrapes).
    const sendCallbacks = async (tag) => {
      const acks = []
      const sends = []
      let errors = 0
      const every = 1_000 / ACK_RATE
      const t0 = performance.now()
      for (let i = 0; performance.now() - t0 < ACK_SECONDS * 1_000; i++) {
        const body = JSON.stringify({
          Body: {
            stkCallback: {
              MerchantRequestID: '29115-34620561-1',
              CheckoutRequestID: `ws_CO_SCALE_${tag}_${now}_${i}`,
              ResultCode: 0,
              ResultDesc: 'The service request is processed successfully.',
              CallbackMetadata: { Item: [{ Name: 'Amount', Value: 1500 }] },
            },
          },
        })
        const s = performance.now()
        sends.push(
          pool
            .request({
              method: 'POST',
              path: cbPath,
              headers: { 'content-type': 'application/json' },
              body,
            })
            .then(async (res) => {
              await res.body.dump()
              if (res.statusCode === 200) acks.push(performance.now() - s)
              else errors++
            })
            .catch(() => errors++),
        )
        const wait = t0 + (i + 1) * every - performance.now()
        // timer(bench): paces requests at the target rate (the load itself)
        if (wait > 0) await sleep(wait)
      }
      await Promise.all(sends)
      const sorted = acks.sort((a, b) => a - b)
      return {
        sent: sends.length,
        acked: sorted.length,
        errors,
        p50: pct(sorted, 50),
        p99: pct(sorted, 99),
        max: sorted.at(-1),
      }
    }
    const alone = await sendCallbacks('ALONE')
    // The health job (second 30 of every minute) evaluates every branch: in a full run, start the
    // scraped window 5 s before one, so that the event-loop figures include it.
    if (ACK_SECONDS >= 10) {
      const now = new Date()
      const at = now.getUTCSeconds() + now.getUTCMilliseconds() / 1000
      // timer(clock): starts the acknowledgement run at second 25 of the minute, away from cron ticks
      await sleep(((((25 - at) % 60) + 60) % 60) * 1000)
    }
    const windowFrom = new Date().toISOString()
    const loops = []
    let scraping = true
    const scraper = (async () => {
      while (scraping) {
        const t = performance.now()
        const r = await get('/metrics')
        loops.push({ ...loopFigures(r.text), scrapeMs: r.ms })
        // timer(bench): one /metrics scrape a second (the figures it reports)
        await sleep(Math.max(0, 1_000 - (performance.now() - t)))
      }
    })()
    const scraped = await sendCallbacks('SCRAPED')
    scraping = false
    await scraper
    // A last scrape covers the end of the run.
    loops.push({ ...loopFigures((await get('/metrics')).text), scrapeMs: Number.NaN })
    const ticks = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"job.run"') && l.includes('"job":"recovery"'))
      .map((l) => JSON.parse(l))
      .map((l) => ({ ms: l.ms, checked: Number(/checked (\d+)/.exec(l.summary ?? '')?.[1] ?? 0) }))
    const busy = ticks.filter((t) => t.checked > 0).map((t) => t.ms)
    const health = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"job.run"') && l.includes('"job":"health"'))
      .map((l) => JSON.parse(l))
      .filter((l) => l.time >= windowFrom)
    const loopMax = Math.max(...loops.map((l) => l.maxMs))
    const loopP99 = Math.max(...loops.map((l) => l.p99Ms))
    return {
      metricsMs: median(metricsMs),
      statusMs: median(statusMs),
      recoveryTickMs: busy.length ? median(busy) : Number.NaN,
      recoveryIdleTickMs: ticks.length ? median(ticks.map((t) => t.ms)) : Number.NaN,
      recoveryTickMaxMs: ticks.length ? Math.max(...ticks.map((t) => t.ms)) : Number.NaN,
      recoveryTicks: ticks.length,
      recoveryBusyTicks: busy.length,
      ack: scraped,
      ackAlone: alone,
      scrapeUnderLoadMs: median(loops.map((l) => l.scrapeMs).filter((x) => !Number.isNaN(x))),
      eventLoop: { maxMs: loopMax, p99Ms: loopP99, windows: loops.length },
      healthRuns: health.map((h) => h.ms),
    }
  } finally {
    await pool.close()
    const code = await stop(daemon.child)
    if (code !== 0)
      console.error(`the daemon exited ${code}:\n${readFileSync(log, 'utf8').slice(-2000)}`)
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const stores = {}
  const homes = []
  try {
    const kept = process.env.SCALE_HOMES?.split(',')
    if (kept) {
      stores.small = reuse(kept[0])
      stores.large = reuse(kept[1])
    }
    for (const [name, n] of kept
      ? []
      : [
          ['small', SMALL],
          ['large', LARGE],
        ]) {
      const home = mkdtempSync(join(tmpdir(), `dsh-bench-scale-${name}-`))
      homes.push(home)
      const env = setUp(home)
      const built = seedNiced(home, n)
      stores[name] = { home, env, ...built }
      console.error(
        `${name}: ${built.payments} payments, ${(built.bytes / 1e6).toFixed(0)} MB, built in ${built.seconds.toFixed(1)} s (${built.cpuSeconds.toFixed(1)} s CPU)`,
      )
    }
    if (process.env.SCALE_SEED_ONLY) return
    const s = stores.small.samples
    const since = new Date(Date.now() - DAY_MS).toISOString()
    const day = new Date(Date.now() + 3 * 3_600_000).toISOString().slice(0, 10)
    const commands = [
      ['payments list', ['payments', 'list', '--json']],
      ['payments list --branch', ['payments', 'list', '--branch', s.branch, '--json']],
      ['payments list --status', ['payments', 'list', '--status', 'failed', '--json']],
      ['payments list --since', ['payments', 'list', '--since', since, '--json']],
      ['payments show', (st) => ['payments', 'show', st.samples.ids[2], '--json']],
      ['callbacks list', ['callbacks', 'list', '--json']],
      ['audit list', ['audit', 'list', '--json']],
      ['report', ['report', '--json']],
      [
        'settle --dry-run (one branch-day)',
        ['settle', '--branch', s.branch, '--date', day, '--dry-run', '--json'],
      ],
    ]
    const times = Object.fromEntries(commands.map(([k]) => [k, { small: [], large: [] }]))
    for (const [, args] of commands) {
      // Warm both stores' pages once (a user's second command finds them cached too).
      for (const name of ['small', 'large']) {
        const st = stores[name]
        timed(st.env, typeof args === 'function' ? args(st) : args)
      }
    }
    for (let r = 0; r < RUNS; r++)
      for (const [k, args] of commands)
        for (const name of r % 2 ? ['large', 'small'] : ['small', 'large']) {
          const st = stores[name]
          times[k][name].push(timed(st.env, typeof args === 'function' ? args(st) : args))
        }
    const daemon = {}
    for (const name of ['small', 'large'])
      daemon[name] = await measureDaemon(stores[name].env, stores[name].home, stores[name].samples)

    const rows = commands.map(([k]) => {
      const small = median(times[k].small)
      const large = median(times[k].large)
      return {
        what: k,
        smallMs: small,
        largeMs: large,
        ratio: large / small,
        target: `≤ ${TARGET.ratio}×`,
      }
    })
    for (const [k, f, target] of [
      ['GET /metrics', (d) => d.metricsMs, `≤ ${TARGET.metricsMs} ms, ≤ ${TARGET.ratio}×`],
      ['GET /api/payments/:id/status', (d) => d.statusMs, `≤ ${TARGET.ratio}×`],
      ['recovery tick with checks (median)', (d) => d.recoveryTickMs, `≤ ${TARGET.ratio}×`],
      ['callback ack p99, no scrape', (d) => d.ackAlone.p99, ''],
      ['callback ack p99, /metrics every 1 s', (d) => d.ack.p99, `≤ ${TARGET.ackP99Ms} ms`],
      ['event-loop delay p99', (d) => d.eventLoop.p99Ms, ''],
      ['event-loop delay max', (d) => d.eventLoop.maxMs, `≤ ${TARGET.loopMaxMs} ms`],
    ])
      rows.push({
        what: k,
        smallMs: f(daemon.small),
        largeMs: f(daemon.large),
        ratio: f(daemon.large) / f(daemon.small),
        target,
      })
    const L = daemon.large
    const met = {
      commands: rows.slice(0, commands.length + 3).every((r) => r.ratio <= TARGET.ratio),
      metrics: L.metricsMs <= TARGET.metricsMs,
      ackP99: L.ack.p99 <= TARGET.ackP99Ms,
      eventLoopMax: L.eventLoop.maxMs <= TARGET.loopMaxMs,
    }
    const machine = {
      node: process.version,
      cpus: cpus().length,
      cpu: cpus()[0]?.model ?? 'unknown',
      loadavg: loadavg().map((x) => +x.toFixed(2)),
    }
    const f = (x) => (Number.isNaN(x) ? 'n/a' : x.toFixed(1))
    console.log(
      `\ndsh scale benchmark: ${machine.node}, ${machine.cpus} × ${machine.cpu}, load ${machine.loadavg.join(' ')}`,
    )
    for (const name of ['small', 'large'])
      console.log(
        `${name}: ${stores[name].payments} payments, ${BRANCHES} branches, ${DAYS} days; ${(stores[name].bytes / 1e6).toFixed(1)} MB on disk; built in ${stores[name].seconds.toFixed(1)} s; ${JSON.stringify(stores[name].rows)}`,
      )
    console.log(`medians of ${RUNS} runs (commands: wall time of a bin/dsh process)\n`)
    console.log(
      `${'measure'.padEnd(38)} ${`${stores.small.payments}`.padStart(10)} ${`${stores.large.payments}`.padStart(10)} ${'ratio'.padStart(7)}  target`,
    )
    for (const r of rows)
      console.log(
        `${r.what.padEnd(38)} ${f(r.smallMs).padStart(10)} ${f(r.largeMs).padStart(10)} ${(Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}×` : 'n/a').padStart(7)}  ${r.target}`,
      )
    console.log(
      `\ncallbacks: ${ACK_RATE}/s for ${ACK_SECONDS} s; large: ${L.ack.acked}/${L.ack.sent} acknowledged, ${L.ack.errors} errors; recovery ticks seen: ${daemon.small.recoveryTicks} / ${L.recoveryTicks} (max ${f(daemon.small.recoveryTickMaxMs)} / ${f(L.recoveryTickMaxMs)} ms); /metrics under load ${f(daemon.small.scrapeUnderLoadMs)} / ${f(L.scrapeUnderLoadMs)} ms; health job runs in the scraped window: ${daemon.small.healthRuns.join(', ') || 'none'} / ${L.healthRuns.join(', ') || 'none'} ms`,
    )
    console.log(
      `targets: commands ≤ ${TARGET.ratio}× ${met.commands ? 'met' : 'NOT met'}; /metrics ≤ ${TARGET.metricsMs} ms ${met.metrics ? 'met' : 'NOT met'}; ack p99 ≤ ${TARGET.ackP99Ms} ms ${met.ackP99 ? 'met' : 'NOT met'}; event-loop max ≤ ${TARGET.loopMaxMs} ms ${met.eventLoopMax ? 'met' : 'NOT met'}`,
    )
    const round = (x) => (Number.isFinite(x) ? +x.toFixed(2) : null)
    console.log(
      `BENCH_JSON ${JSON.stringify({
        date: new Date().toISOString(),
        machine,
        runs: RUNS,
        stores: Object.fromEntries(
          ['small', 'large'].map((k) => [
            k,
            {
              payments: stores[k].payments,
              branches: BRANCHES,
              days: DAYS,
              bytes: stores[k].bytes,
              buildSeconds: round(stores[k].seconds),
              rows: stores[k].rows,
            },
          ]),
        ),
        rows: rows.map((r) => ({
          ...r,
          smallMs: round(r.smallMs),
          largeMs: round(r.largeMs),
          ratio: round(r.ratio),
        })),
        daemon,
        targets: TARGET,
        met,
      })}`,
    )
  } finally {
    if (!process.env.SCALE_KEEP) for (const h of homes) rmSync(h, { recursive: true, force: true })
    else console.error(`kept: ${homes.join(' ')}`)
  }
}

/**
 * The bulk load runs in a child process at nice 10 (the machine is shared); the measurements run
 * at the caller's priority, so a niced load does not stand in the daemon's latency figures.
 */
function seedNiced(home, n) {
  const r = spawnSync(
    'nice',
    ['-n', '10', process.execPath, fileURLToPath(import.meta.url), '--seed', home, String(n)],
    { env: baseEnv({ DSH_HOME: home }), encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
  )
  if (r.status !== 0) throw new Error(`seeding ${home} failed (${r.status}): ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').at(-1))
}

if (process.argv[2] === '--seed')
  seed(process.argv[3], Number(process.argv[4])).then(
    (r) => console.log(JSON.stringify(r)),
    (e) => {
      console.error(e)
      process.exit(1)
    },
  )
else
  main().catch((e) => {
    console.error(e)
    process.exit(1)
  })
