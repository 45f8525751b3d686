import { utimesSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.js'
import { withActor } from '../../src/context.js'
import { Metrics } from '../../src/daemon/metrics.js'
import { verifyBankSignature } from '../../src/gateways/bank/client.js'
import { storeGauges } from '../../src/reports/gauges.js'
import { healthJobs } from '../../src/reports/jobs.js'
import { openStore } from '../../src/store/connect.js'
import { dsh } from '../helpers/cli.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { testRuntime } from '../helpers/run-cli.js'

interface Health {
  status: string
  checks: { name: string; branch: string | null; ok: boolean }[]
  alerts: { code: string; branch: string | null; since: string; message: string }[]
}

let seq = 0
const payment = (p: {
  tenant: string
  branch: string
  status: string
  amountMinor?: bigint
  phone?: string | null
  createdAt: Date
  completedAfterS?: number
  nextCheckAt?: string | null
}) => ({
  id: `pay_h_${String(seq++).padStart(5, '0')}`,
  tenant_id: p.tenant,
  branch_id: p.branch,
  order_id: null,
  amount_minor: p.amountMinor ?? 10_000n,
  currency: 'KES',
  refunded_minor: 0n,
  method: 'mpesa',
  customer_type: 'regular',
  phone: p.phone ?? null,
  gateway: 'mpesa',
  status: p.status,
  failure_code: null,
  failure_message: null,
  routing: '{}',
  idempotency_key: null,
  receipt_number: null,
  gateway_ref: null,
  fee_minor: null,
  fee_rate_bp: null,
  fee_flat_minor: null,
  fee_currency: null,
  settlement_status: 'unsettled',
  settlement_batch_id: null,
  next_check_at: p.nextCheckAt ?? null,
  check_count: 0,
  created_at: p.createdAt.toISOString(),
  updated_at: p.createdAt.toISOString(),
  completed_at:
    p.completedAfterS === undefined
      ? null
      : new Date(p.createdAt.getTime() + p.completedAfterS * 1000).toISOString(),
})

describe.each(DIALECTS)('dsh health on $name', ({ name, enabled }) => {
  const env = useStoreEnv(name)
  const run = (...args: string[]) => dsh(args, { env: env.env, timeoutMs: 30_000 })
  const health = async (...args: string[]) => {
    const r = await run('health', '--json', ...args)
    return { code: r.code, body: JSON.parse(r.stdout) as Health, stderr: r.stderr }
  }
  const codes = (h: Health) => h.alerts.map((a) => a.code).sort()

  it.runIf(enabled)(
    'each alert fires on its condition, keeps its since, and clears',
    async () => {
      for (const args of [
        ['init'],
        ['tenant', 'add', 'acme', '--name', 'Acme'],
        ['branch', 'add', 'westlands', '--tenant', 'acme', '--name', 'W', '--currency', 'KES'],
      ]) {
        const r = await run(...args)
        expect(r.code, r.stderr).toBe(0)
      }
      const clean = await health()
      expect(clean.code, clean.stderr).toBe(0)
      expect(clean.body).toMatchObject({ status: 'ok', alerts: [] })

      const store = await openStore(env.db)
      const b = await store.db.selectFrom('branches').selectAll().executeTakeFirstOrThrow()
      const now = Date.now()
      const at = (minAgo: number) => new Date(now - minAgo * 60_000)
      const base = { tenant: b.tenant_id, branch: b.id }
      try {
        await store.write(async (trx) => {
          const rows = [
            // 2 of 12 final payments succeeded (17%), each taking 300 s.
            ...Array.from({ length: 2 }, (_, i) =>
              payment({
                ...base,
                status: 'succeeded',
                createdAt: at(30 + i),
                completedAfterS: 300,
              }),
            ),
            ...Array.from({ length: 10 }, (_, i) =>
              payment({ ...base, status: 'failed', createdAt: at(40 + i), completedAfterS: 5 }),
            ),
            // One phone paying 5 times in 8 minutes.
            ...Array.from({ length: 5 }, (_, i) =>
              payment({
                ...base,
                status: 'cancelled',
                phone: '254712345678',
                createdAt: at(2 * i + 1),
                completedAfterS: 1,
              }),
            ),
            // KES 1,500,000: at the default KYC threshold of 1,000,000.
            payment({
              ...base,
              status: 'pending',
              amountMinor: 150_000_000n,
              createdAt: at(3),
              nextCheckAt: at(1).toISOString(),
            }),
          ]
          for (const r of rows) await trx.insertInto('payments').values(r).execute()
        })
      } finally {
        await store.close()
      }
      for (const [k, v] of [
        ['alert-recovery-overdue', '0'],
        ['alert-inbox-depth', '0'],
      ] as [string, string][])
        expect((await run('config', 'set', k, v)).code).toBe(0)
      const first = await health()
      expect(first.code).toBe(8)
      expect(first.stderr).toContain('alert(s) open')
      expect(codes(first.body)).toEqual([
        'kyc_threshold',
        'low_success_rate',
        'phone_burst',
        'recovery_backlog',
        'slow_processing',
      ])
      const rate = first.body.alerts.find((a) => a.code === 'low_success_rate')!
      expect(rate.message).toBe(
        'westlands: success rate today 11.76% is below 80% (2 of 17 final payments)',
      )
      expect(first.body.alerts.find((a) => a.code === 'phone_burst')!.message).toBe(
        'westlands: 2547******78 paid 5 times within 10 minutes',
      )
      // A second evaluation keeps each alert's since.
      const second = await health('--branch', 'westlands')
      expect(second.body.alerts.map((a) => a.since)).toEqual(first.body.alerts.map((a) => a.since))
      // Each condition removed in turn closes its alert, and only that one.
      const steps: [string, string, string][] = [
        ['alert-success-rate', '10', 'low_success_rate'],
        ['alert-processing-seconds', '600', 'slow_processing'],
        ['alert-phone-burst', '6', 'phone_burst'],
        ['alert-kyc-amount', '2000000', 'kyc_threshold'],
        ['alert-recovery-overdue', '5', 'recovery_backlog'],
      ]
      let open = codes(first.body)
      for (const [k, v, code] of steps) {
        expect((await run('config', 'set', k, v)).code).toBe(0)
        open = open.filter((c) => c !== code)
        const h = await health()
        expect(codes(h.body), `after ${k} ${v}`).toEqual(open)
      }
      const done = await health()
      expect(done.code).toBe(0)
      expect(done.body.status).toBe('ok')
    },
    60_000,
  )

  it.runIf(enabled)(
    'a stale backup alerts only once one exists; a fresh one clears it',
    async () => {
      expect((await health()).code).toBe(0)
      const b = await run('backup', '--json')
      expect(b.code, b.stderr).toBe(0)
      const file = (JSON.parse(b.stdout) as { file: string }).file
      const old = new Date(Date.now() - 40 * 3_600_000)
      utimesSync(file, old, old)
      const stale = await health()
      expect(stale.code).toBe(8)
      expect(codes(stale.body)).toEqual(['backup_stale'])
      expect((await run('backup')).code).toBe(0)
      expect((await health()).code).toBe(0)
    },
    60_000,
  )
})

describe('the daemon health job (SQLite)', () => {
  const env = useStoreEnv('sqlite')
  const run = (...args: string[]) => dsh(args, { env: env.env, timeoutMs: 30_000 })

  it('POSTs alert changes signed with X-Dsh-Signature, retried after a failure; /metrics counts them', async () => {
    for (const args of [
      ['init'],
      ['tenant', 'add', 'acme', '--name', 'Acme'],
      ['branch', 'add', 'westlands', '--tenant', 'acme', '--name', 'W', '--currency', 'KES'],
      ['gateway', 'setup', 'cash', '--tenant', 'acme'],
      ['config', 'set', 'alert-kyc-amount', '100'],
    ]) {
      const r = await run(...args)
      expect(r.code, r.stderr).toBe(0)
    }
    const received: { body: string; signature: string | undefined }[] = []
    let refuseFirst = true
    const server = createServer((req: IncomingMessage, res) => {
      let body = ''
      req.on('data', (d) => {
        body += d
      })
      req.on('end', () => {
        if (refuseFirst) {
          refuseFirst = false
          res.writeHead(500).end()
          return
        }
        received.push({ body, signature: req.headers['x-dsh-signature'] as string | undefined })
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as { port: number }).port
    const secret = 'whsec_alerts_0123456789abcdef'
    const secretFile = join(env.home, 'alert-secret')
    writeFileSync(secretFile, `${secret}\n`)
    expect(
      (await run('config', 'set', 'alert-webhook-url', `http://127.0.0.1:${port}/hook`)).code,
    ).toBe(0)
    expect((await run('config', 'set', 'alert-webhook-url', 'http://example.com/hook')).code).toBe(
      3,
    )
    const set = await run('config', 'set', 'alert-webhook-secret-file', secretFile)
    expect(set.code, set.stderr).toBe(0)
    const shown = await run('config', 'get', '--json')
    expect(shown.stdout).not.toContain(secret)
    const audit = await run('audit', 'list', '--json')
    expect(audit.stdout).not.toContain(secret)
    expect(
      (
        await run(
          'pay',
          '--branch',
          'westlands',
          '--amount',
          '150',
          '--currency',
          'KES',
          '--method',
          'cash',
        )
      ).code,
    ).toBe(0)

    const app = createApp(testRuntime({ env: env.env }).rt, {})
    try {
      const ctx = withActor(app, 'daemon', { warn: () => {} })
      const [job] = await healthJobs(ctx, {
        recovery: { pendingMs: [], unknownMs: [] },
        recoveryCron: '* * * * * *',
        dbSpec: env.db,
      })
      const r = await job!.run(new Date())
      expect(r.summary).toBe('1 open, 1 opened, 0 closed; webhook delivered')
      expect(received).toHaveLength(1)
      const got = received[0]!
      expect(verifyBankSignature(got.body, got.signature, secret, Date.now())).toBe(true)
      expect(verifyBankSignature(got.body, got.signature, 'wrong-secret-0000', Date.now())).toBe(
        false,
      )
      const doc = JSON.parse(got.body) as { changes: { event: string; alert: { code: string } }[] }
      expect(doc.changes.map((c) => `${c.event} ${c.alert.code}`)).toEqual([
        'alert.opened kyc_threshold',
      ])
      // Nothing changed: nothing sent.
      expect((await job!.run(new Date())).idle).toBe(true)
      expect(received).toHaveLength(1)

      const text = new Metrics().render(await storeGauges(app), { jobsAlive: {}, inflight: 0 })
      expect(text).toContain('dsh_alerts_open{code="kyc_threshold",branch="westlands"} 1')
      expect(text).toContain(
        'dsh_settlement_pending_minor{branch="westlands",currency="KES"} 15000',
      )

      expect((await run('config', 'set', 'alert-kyc-amount', '1000')).code).toBe(0)
      expect((await job!.run(new Date())).summary).toBe(
        '0 open, 0 opened, 1 closed; webhook delivered',
      )
      expect(JSON.parse(received[1]!.body).changes[0].event).toBe('alert.closed')
    } finally {
      await app.close()
      server.close()
    }
  }, 30_000)
})
