// Statement import and reconciliation benchmark (issue 12, RECONCILIATION.md §4).
// T1 import 100k lines <= 2 s end to end (cold process); T2 re-import <= 1.5 s inserting nothing;
// T3 1M lines <= 20 s with peak RSS <= 400 MB (streamed); T4 reconcile 100k lines against 100k
// payments (+ settlement batches when the store has them) <= 3 s. Every step is a real `dsh`
// process against a SQLite store. When `hledger` is on the PATH the same CSV is read by
// `hledger print` with an equivalent rules file and the ratio printed; otherwise it says skipped.
import { spawnSync } from 'node:child_process'
import {
  copyFileSync,
  createWriteStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const DSH = join(ROOT, 'bin', 'dsh')
const dist = (p) => pathToFileURL(join(ROOT, 'dist', p)).href
const LINES = Number(process.env.BENCH_LINES ?? 100_000)
const BIG = Number(process.env.BENCH_BIG_LINES ?? 1_000_000)
const BATCHES = Number(process.env.BENCH_BATCHES ?? 2_000)
const TARGETS = { import: 2.0, reimport: 1.5, big: 20, bigRssMb: 400, reconcile: 3.0 }

let HOOK = ''
/** Runs dsh in a child process; `usage` is its own CPU time and peak RSS (from a preload hook). */
function dsh(env, args) {
  const out = `${HOOK}.${process.hrtime.bigint()}.json`
  const pre = HOOK ? ['--import', pathToFileURL(HOOK).href] : []
  const t0 = process.hrtime.bigint()
  const r = spawnSync(process.execPath, [...pre, DSH, ...args], {
    env: { ...process.env, ...env, NO_COLOR: '1', USAGE_OUT: HOOK ? out : '' },
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  })
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  if (r.status !== 0 && r.status !== 8)
    throw new Error(`dsh ${args.join(' ')} failed (${r.status}): ${r.stderr}`)
  let usage = { cpuSeconds: Number.NaN, peakRssMb: Number.NaN }
  try {
    const u = JSON.parse(readFileSync(out, 'utf8'))
    usage = { cpuSeconds: (u.user + u.system) / 1e6, peakRssMb: Math.round(u.maxRSS / 1024) }
  } catch {}
  return { seconds, stdout: r.stdout, stderr: r.stderr, code: r.status, ...usage }
}

const pad = (n) => String(n).padStart(2, '0')
const nairobi = (ms) => {
  const d = new Date(ms + 3 * 3_600_000)
  return `${pad(d.getUTCDate())}-${pad(d.getUTCMonth() + 1)}-${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
}
const money = (minor) =>
  `${Math.floor(minor / 100)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${pad(minor % 100)}`

const START = Date.UTC(2026, 10, 1) - 3 * 3_600_000
/** Line i of the synthetic month: receipt, booking time, amount (minor units). */
const lineAt = (i, n) => ({
  receipt: `BM${String(i).padStart(8, '0')}`,
  at: START + Math.floor((i * 30 * 86_400_000) / n),
  amount: 10_000 + ((i * 7919) % 500) * 100,
})

/** An M-Pesa statement of n lines, oldest first, written as a stream. */
async function writeStatement(path, n) {
  const out = createWriteStream(path)
  const write = (s) => (out.write(s) ? undefined : new Promise((r) => out.once('drain', r)))
  await write(
    '\ufeffOrganisation Name:,BENCH LTD\r\nTime Period: From 01-11-2026 To 30-11-2026\r\n\r\nReceipt No.,Completion Time,Initiation Time,Details,Transaction Status,Paid In,Withdrawn,Balance,Balance Confirmed,Reason Type,Other Party Info,Linked Transaction ID,A/C No.\r\n',
  )
  let balance = 0
  for (let i = 0; i < n; i++) {
    const l = lineAt(i, n)
    balance += l.amount
    const t = nairobi(l.at + 20_000)
    await write(
      `${l.receipt},${t},${t},Pay Bill Online,Completed,"${money(l.amount)}",,"${money(balance)}",true,Pay Bill Online,254712***678 - CUSTOMER,,BENCH\r\n`,
    )
  }
  await new Promise((r) => out.end(r))
}

/**
 * 100k payments of the same month for the reconcile step, bulk-inserted (a benchmark fixture,
 * not a payment flow): 95% succeeded with their receipt, 4% succeeded without (STK query),
 * 1% succeeded with no statement line.
 */
async function seedPayments(db, n) {
  const { openStore } = await import(dist('src/store/connect.js'))
  const store = await openStore(db)
  try {
    const branch = await store.db.selectFrom('branches').selectAll().executeTakeFirstOrThrow()
    await store.write(async (trx) => {
      let rows = []
      for (let i = 0; i < n; i++) {
        const l = lineAt(i, n)
        const at = new Date(l.at).toISOString()
        rows.push({
          id: `pay_bench_${String(i).padStart(8, '0')}`,
          tenant_id: branch.tenant_id,
          branch_id: branch.id,
          order_id: null,
          amount_minor: BigInt(l.amount),
          currency: 'KES',
          refunded_minor: 0n,
          method: 'mpesa',
          customer_type: 'regular',
          phone: '254712345678',
          gateway: 'mpesa',
          status: 'succeeded',
          routing: '{}',
          receipt_number: i % 25 === 7 ? null : i % 100 === 42 ? `XX${i}` : l.receipt,
          settlement_status: 'unsettled',
          check_count: 0,
          created_at: at,
          updated_at: at,
          completed_at: at,
        })
        if (rows.length === 500) {
          await trx.insertInto('payments').values(rows).execute()
          rows = []
        }
      }
      if (rows.length > 0) await trx.insertInto('payments').values(rows).execute()
    })
  } finally {
    await store.close()
  }
}

/**
 * BATCHES processing settlement batches (one per branch-day and gateway, a fixture inserted in
 * bulk) and the bank statement that pays them: 90% with their SETTLEMENT reference, 10% by net and
 * date alone (unique nets).
 */
async function seedBatches(db, n, path) {
  const { openStore } = await import(dist('src/store/connect.js'))
  const store = await openStore(db)
  const lines = ['Date,Value Date,Description,Reference,Debit,Credit,Balance']
  try {
    const branch = await store.db
      .selectFrom('branches')
      .selectAll()
      .where('code', '=', 'bench')
      .executeTakeFirstOrThrow()
    const account = await store.db
      .selectFrom('settlement_accounts')
      .selectAll()
      .executeTakeFirstOrThrow()
    await store.write(async (trx) => {
      let rows = []
      for (let i = 0; i < n; i++) {
        const id = `stl_bench${String(i).padStart(17, '0')}`
        const sent = START + Math.floor((i * 29 * 86_400_000) / n)
        const net = 1_000_000 + i * 137
        const at = new Date(sent).toISOString()
        rows.push({
          id,
          reference: `SETTLEMENT-${id.slice(-10)}`,
          tenant_id: branch.tenant_id,
          branch_id: branch.id,
          account_id: account.id,
          gateway: i % 2 ? 'mpesa' : 'stripe',
          currency: 'KES',
          period_start: null,
          period_end: `${at}#${i}`,
          status: 'processing',
          payment_count: 0,
          gross_minor: BigInt(net + 5_000),
          transaction_fees_minor: 5_000n,
          conversion_fees_minor: 0n,
          settlement_fee_minor: 0n,
          fees_minor: 5_000n,
          net_minor: BigInt(net),
          sent_at: at,
          created_at: at,
          updated_at: at,
        })
        const day = new Date(sent + 86_400_000 + 3 * 3_600_000).toISOString().slice(0, 10)
        lines.push(
          `${day},${day},Settlement ${i % 10 === 3 ? '' : `SETTLEMENT-${id.slice(-10)}`},TRF${i},,"${money(net)}",`,
        )
        if (rows.length === 200) {
          await trx.insertInto('settlement_batches').values(rows).execute()
          rows = []
        }
      }
      if (rows.length > 0) await trx.insertInto('settlement_batches').values(rows).execute()
    })
  } finally {
    await store.close()
  }
  writeFileSync(path, `${lines.join('\n')}\n`)
}

function hledger(csv, n, dir) {
  const which = spawnSync('hledger', ['--version'], { encoding: 'utf8' })
  if (which.status !== 0) return null
  const rules = join(dir, 'mpesa.rules')
  writeFileSync(
    rules,
    [
      'skip 4',
      'separator ,',
      'fields code, date, _, description, status, amount_in, amount_out, balance, _, _, _, _, _',
      'date-format %d-%m-%Y %H:%M:%S',
      'currency KES',
      'account1 assets:mpesa',
      'account2 income:sales',
      '',
    ].join('\n'),
  )
  const t0 = process.hrtime.bigint()
  const r = spawnSync('hledger', ['-f', csv, '--rules-file', rules, 'print'], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  })
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  if (r.status !== 0) return { version: which.stdout.trim(), error: r.stderr.slice(0, 300) }
  return { version: which.stdout.trim(), seconds, lines: n }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'dsh-bench-recon-'))
  const results = {}
  try {
    HOOK = join(dir, 'usage.mjs')
    writeFileSync(
      HOOK,
      "import { writeFileSync } from 'node:fs'\nprocess.on('exit', () => { if (process.env.USAGE_OUT) { const u = process.resourceUsage(); writeFileSync(process.env.USAGE_OUT, JSON.stringify({ user: u.userCPUTime, system: u.systemCPUTime, maxRSS: u.maxRSS })) } })\n",
    )
    const env = { DSH_HOME: join(dir, 'home') }
    for (const args of [
      ['init'],
      ['tenant', 'add', 'acme', '--name', 'Acme'],
      ['branch', 'add', 'bench', '--tenant', 'acme', '--name', 'Bench', '--currency', 'KES'],
      ['branch', 'add', 'big', '--tenant', 'acme', '--name', 'Big', '--currency', 'KES'],
      [
        'branch',
        'settlement-account',
        'bench',
        '--account-name',
        'Bench Ltd',
        '--account-number',
        '0011223344',
        '--bank-name',
        'KCB',
      ],
    ])
      dsh(env, args)
    const csv = join(dir, 'statement.csv')
    await writeStatement(csv, LINES)
    const imp = dsh(env, [
      'reconcile',
      'import',
      csv,
      '--branch',
      'bench',
      '--profile',
      'mpesa',
      '--json',
    ])
    const impJson = JSON.parse(imp.stdout)
    if (impJson.imported !== LINES) throw new Error(`imported ${impJson.imported} of ${LINES}`)
    results.import = {
      lines: LINES,
      seconds: imp.seconds,
      cpuSeconds: imp.cpuSeconds,
      target: TARGETS.import,
    }
    const again = dsh(env, [
      'reconcile',
      'import',
      csv,
      '--branch',
      'bench',
      '--profile',
      'mpesa',
      '--json',
    ])
    const againJson = JSON.parse(again.stdout)
    if (againJson.imported !== 0 || againJson.alreadyPresent !== LINES)
      throw new Error(`re-import inserted ${againJson.imported}`)
    results.reimport = {
      lines: LINES,
      seconds: again.seconds,
      cpuSeconds: again.cpuSeconds,
      inserted: 0,
      target: TARGETS.reimport,
    }

    await seedPayments(join(dir, 'home', 'dsh.db'), LINES)
    const bankCsv = join(dir, 'bank.csv')
    await seedBatches(join(dir, 'home', 'dsh.db'), BATCHES, bankCsv)
    dsh(env, ['reconcile', 'import', bankCsv, '--branch', 'bench', '--profile', 'bank', '--json'])
    // With BENCH_KEEP, a copy of the store as it was before the run (to profile the run again).
    if (process.env.BENCH_KEEP)
      copyFileSync(join(dir, 'home', 'dsh.db'), join(dir, 'home', 'before-run.db'))
    const rec = dsh(env, ['reconcile', 'run', '--branch', 'bench', '--json'])
    if (!rec.stdout) throw new Error(`reconcile printed nothing (${rec.code}): ${rec.stderr}`)
    const report = JSON.parse(rec.stdout)
    results.reconcile = {
      lines: report.summary.lines,
      payments: LINES,
      batches: BATCHES,
      seconds: rec.seconds,
      cpuSeconds: rec.cpuSeconds,
      matched: report.summary.matched,
      autoMatchRateBp: report.summary.autoMatchRateBp,
      discrepancies: report.summary.discrepancies,
      target: TARGETS.reconcile,
    }

    if (BIG > 0) {
      const big = join(dir, 'big.csv')
      await writeStatement(big, BIG)
      const b = dsh(env, [
        'reconcile',
        'import',
        big,
        '--branch',
        'big',
        '--profile',
        'mpesa',
        '--json',
      ])
      results.big = {
        lines: BIG,
        seconds: b.seconds,
        cpuSeconds: b.cpuSeconds,
        peakRssMb: b.peakRssMb,
        target: TARGETS.big,
        rssTarget: TARGETS.bigRssMb,
      }
    }
    const h = hledger(csv, LINES, dir)
    results.hledger = h ?? { skipped: 'hledger is not on the PATH' }
  } finally {
    if (process.env.BENCH_KEEP) console.log(`kept ${dir}`)
    else rmSync(dir, { recursive: true, force: true })
  }
  const ok =
    results.import.seconds <= TARGETS.import &&
    results.reimport.seconds <= TARGETS.reimport &&
    results.reconcile.seconds <= TARGETS.reconcile &&
    (!results.big ||
      (results.big.seconds <= TARGETS.big && results.big.peakRssMb <= TARGETS.bigRssMb))
  const row = (name, r, extra = '') =>
    `${name.padEnd(28)} ${r.seconds.toFixed(2).padStart(7)} s wall ${r.cpuSeconds.toFixed(2).padStart(6)} s CPU   target <= ${r.target} s ${r.seconds <= r.target ? 'ok' : 'MISSED'}${extra}`
  const load = loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')
  console.log(
    `statement import and reconciliation (${cpus().length} cores, node ${process.version}, load ${load})`,
  )
  console.log(row(`import ${LINES} lines`, results.import))
  console.log(row(`re-import ${LINES} (0 new)`, results.reimport))
  console.log(
    row(
      `reconcile ${LINES}+${BATCHES} lines`,
      results.reconcile,
      `   auto-matched ${(results.reconcile.autoMatchRateBp / 100).toFixed(2)}%`,
    ),
  )
  if (results.big)
    console.log(
      row(
        `import ${BIG} lines`,
        results.big,
        `   peak RSS ${results.big.peakRssMb} MB (target <= ${TARGETS.bigRssMb}) ${results.big.peakRssMb <= TARGETS.bigRssMb ? 'ok' : 'MISSED'}`,
      ),
    )
  if (results.hledger.skipped) console.log(`hledger comparison skipped: ${results.hledger.skipped}`)
  else if (results.hledger.error) console.log(`hledger comparison failed: ${results.hledger.error}`)
  else
    console.log(
      `hledger print ${LINES} lines: ${results.hledger.seconds.toFixed(2)} s (${results.hledger.version}); dsh import is ${(results.hledger.seconds / results.import.seconds).toFixed(1)}x faster`,
    )
  console.log(`BENCH_JSON ${JSON.stringify({ bench: 'reconcile', ok, results })}`)
  if (!ok) process.exitCode = 1
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
