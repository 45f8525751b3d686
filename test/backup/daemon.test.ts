import { appendFileSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.js'
import { backupJobs } from '../../src/backup/jobs.js'
import { withActor } from '../../src/context.js'
import { localDate } from '../../src/core/schedule.js'
import { freePort, post, startDaemon, stkCallback, waitFor } from '../daemon/helpers.js'
import { dsh } from '../helpers/cli.js'
import { usePaymentsEnv } from '../helpers/payments-env.js'
import { testRuntime } from '../helpers/run-cli.js'

interface Callback {
  dedupeKey: string
}

const env = usePaymentsEnv('sqlite')
const vars = () => ({ DSH_HOME: env.home, DSH_DB: env.db })
const cli = (...args: string[]) => dsh(args, { env: vars(), timeoutMs: 60_000 })
const ahead = (days: number) =>
  localDate(new Date(Date.now() + days * 86_400_000), 'Africa/Nairobi')

/** A cash payment settled to westlands' file account `days` ahead: the new batch's id. */
async function settledCashBatch(days: number): Promise<string> {
  const pay = ['pay', '--branch', 'westlands', '--amount', '100', '--currency', 'KES']
  const paid = await cli(...pay, '--method', 'cash', '--json')
  expect(paid.code, paid.stderr).toBe(0)
  const r = await cli('settle', '--branch', 'westlands', '--date', ahead(days), '--json')
  expect(r.code, r.stderr).toBe(0)
  const batches = r.json<{ batches: { id: string }[] }>().batches
  expect(batches).toHaveLength(1)
  return (batches[0] as { id: string }).id
}

describe('backups of a running daemon (SQLite)', () => {
  let backupFile = ''
  let ackedBefore: string[] = []
  let tokenName = ''
  const batchIds: string[] = []

  it('a backup taken under a callback flood holds every callback acknowledged before it began', async () => {
    const port = await freePort()
    const daemon = await startDaemon(vars(), ['--port', String(port)])
    try {
      const token = await cli(
        'token',
        'create',
        '--name',
        'ops-before',
        '--role',
        'viewer',
        '--json',
      )
      expect(token.code, token.stderr).toBe(0)
      tokenName = 'ops-before'
      const url = (await cli('gateway', 'callback-url', 'mpesa', '--branch', 'westlands', '--json'))
        .json<{
          url: string
        }>()
        .url.replace(/^http:\/\/[^/]+/, daemon.url)
      const acked: { key: string; at: number }[] = []
      let flooding = true
      const flood = Promise.all(
        Array.from({ length: 4 }, async (_, lane) => {
          for (let n = 0; flooding; n++) {
            const cri = `ws_CO_BK${lane}_${n}`
            const r = await post(url, stkCallback(cri, { amount: '10' }))
            if (r.status === 200) acked.push({ key: `mpesa:${cri}`, at: Date.now() })
          }
        }),
      )
      // A settlement batch in the backup (a cash payment settled to a file account), so the
      // restored store's batches are something to compare, and one made after it that must not be.
      for (const args of [
        ['tenant', 'collection-account', 'acme', '--currency', 'KES', '--account-name', 'Acme'],
        [
          'branch',
          'settlement-account',
          'westlands',
          '--account-name',
          'W',
          '--holding-hours',
          '0',
        ],
      ]) {
        const bank = ['--account-number', '0011223344', '--bank-name', 'KCB']
        const account = await cli(...args, ...bank)
        expect(account.code, account.stderr).toBe(0)
      }
      batchIds.push(await settledCashBatch(1))
      expect(batchIds).toHaveLength(1)
      // However slow the machine, the backup starts only once callbacks are being acknowledged.
      await waitFor(() => acked.length >= 20, 30_000, '20 acknowledged callbacks', 20)
      // Exactly the callbacks acknowledged before the backup began (a time filter lost those
      // acknowledged in the same millisecond: 19 of 20 once).
      const before = acked.length
      const b = await cli('backup', '--json')
      expect(b.code, b.stderr).toBe(0)
      const doneAt = Date.now()
      await waitFor(() => acked.some((a) => a.at > doneAt), 10_000, 'the flood to go on', 20)
      flooding = false
      await flood
      backupFile = b.json<{ file: string }>().file
      ackedBefore = acked.slice(0, before).map((a) => a.key)
      expect(ackedBefore.length).toBeGreaterThanOrEqual(20)
      expect(acked.length).toBeGreaterThan(ackedBefore.length)
      const v = await cli('backup', 'verify', backupFile)
      expect(v.code, v.stdout).toBe(0)

      // Restoring while the daemon holds the store is refused, naming its pid; nothing changes.
      const refused = await cli('restore', backupFile, '--yes')
      expect(refused.code, refused.stderr).toBe(5)
      expect(refused.stderr).toContain(`pid ${daemon.proc.pid}`)
    } finally {
      expect(await daemon.stop()).toBe(0)
    }
  }, 60_000)

  it('after the daemon stops, restore and a new daemon give back the store as it was', async () => {
    const late = await cli('token', 'create', '--name', 'ops-after', '--role', 'viewer')
    expect(late.code, late.stderr).toBe(0)
    const lateBatch = await settledCashBatch(2)
    const r = await cli('restore', backupFile, '--yes')
    expect(r.code, r.stderr).toBe(0)
    const port = await freePort()
    const daemon = await startDaemon(vars(), ['--port', String(port)])
    try {
      const inbox = (await cli('callbacks', 'list', '--limit', '100000', '--json')).json<
        Callback[]
      >()
      const keys = new Set(inbox.map((c) => c.dedupeKey))
      expect(
        ackedBefore.filter((k) => !keys.has(k)),
        'acknowledged before the backup',
      ).toEqual([])
      const tokens = (await cli('token', 'list', '--json')).json<{ name: string }[]>()
      expect(tokens.map((t) => t.name)).toContain(tokenName)
      expect(tokens.map((t) => t.name)).not.toContain('ops-after')
      expect((await cli('audit', 'verify')).code).toBe(0)
      const doctor = await cli('doctor', '--json')
      expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0)
      const batches = (await cli('settlements', 'list', '--json')).json<{ id: string }[]>()
      // The batch made before the backup is back; the one made after it is not.
      expect(batches.map((b) => b.id)).toEqual(batchIds)
      expect(batchIds).not.toContain(lateBatch)
      expect((await cli('backup', 'verify', backupFile)).code).toBe(0)
    } finally {
      expect(await daemon.stop()).toBe(0)
    }
  }, 60_000)
})

describe('the audit anchor outside the store', () => {
  it('cutting off the newest rows together with audit_head is seen by --expect and --anchors only', async () => {
    const anchors = join(env.home, 'anchors.log')
    const head = (await cli('audit', 'head', '--json')).json<{ seq: number; hash: string }>()
    expect(head.seq).toBeGreaterThan(3)
    // The pretty JSON of `audit head --json`, appended as an operator would.
    appendFileSync(anchors, (await cli('audit', 'head', '--json')).stdout)
    expect((await cli('audit', 'verify', '--anchors', anchors)).code).toBe(0)
    expect((await cli('audit', 'verify', '--expect', `${head.seq}:${head.hash}`)).code).toBe(0)
    const db = new Database(env.db)
    const keep = db.prepare('select seq, hash from audit_log where seq = ?').get(head.seq - 2) as {
      seq: number
      hash: string
    }
    db.prepare('delete from audit_log where seq > ?').run(keep.seq)
    db.prepare('update audit_head set seq = ?, hash = ? where id = 1').run(keep.seq, keep.hash)
    db.close()
    // Control: the chain alone looks intact.
    const plain = await cli('audit', 'verify', '--json')
    expect(plain.code, plain.stdout).toBe(0)
    const expectRun = await cli('audit', 'verify', '--expect', `${head.seq}:${head.hash}`, '--json')
    expect(expectRun.code).toBe(8)
    expect(expectRun.json<{ reason: string }>().reason).toBe(
      `row ${head.seq} of an anchor is gone: the newest rows were cut off (the chain now ends at ${keep.seq})`,
    )
    const anchored = await cli('audit', 'verify', '--anchors', anchors)
    expect(anchored.code).toBe(8)
    expect(anchored.stderr).toContain('the newest rows were cut off')
    const badLine = await cli('audit', 'verify', '--expect', 'x:y')
    expect(badLine.code).toBe(3)
    // 12 s at a load of 18 on 2 cores: over 3× its quiet time.
  }, 60_000)
})

describe('scheduled backups and anchors (daemon jobs on a virtual clock)', () => {
  it('backs up at backup-at in the tenant time zone, keeps backup-keep, appends the head daily', async () => {
    expect((await cli('config', 'set', 'backup-at', '03:15')).code).toBe(0)
    expect((await cli('config', 'set', 'backup-keep', '2')).code).toBe(0)
    expect((await cli('config', 'set', 'backup-at', '25:00')).code).toBe(3)
    const ctx = withActor(createApp(testRuntime({ env: vars() }).rt, {}), 'daemon')
    const jobs = await backupJobs(ctx, {
      recovery: { pendingMs: [], unknownMs: [] },
      recoveryCron: '* * * * * *',
      dbSpec: env.db,
    })
    const backup = jobs.find((j) => j.name === 'backup')!
    const anchor = jobs.find((j) => j.name === 'audit-anchor')!
    const before = readdirSync(join(env.home, 'backups')).filter((f) => f.endsWith('.db')).length
    // 00:15 UTC is 03:15 in Nairobi (EAT, UTC+3): the only minute of the day it runs.
    expect((await backup.run(new Date('2026-11-30T03:15:00Z'))).idle).toBe(true)
    for (const day of ['01', '02', '03']) {
      const r = await backup.run(new Date(`2026-12-${day}T00:15:00Z`))
      expect(r.idle, r.summary).toBeUndefined()
      // timer(clock): backup file names are per second of the product's wall clock
      await new Promise((res) => setTimeout(res, 1_100))
    }
    const left = readdirSync(join(env.home, 'backups')).filter((f) => /^dsh-.*\.db$/.test(f))
    expect(before).toBeGreaterThan(0)
    expect(left).toHaveLength(2)
    const a = await anchor.run(new Date('2026-12-03T00:05:00Z'))
    expect(a.summary).toContain('audit-anchors.log')
    const line = readFileSync(join(env.home, 'audit-anchors.log'), 'utf8')
      .trim()
      .split('\n')
      .at(-1)!
    const head = (await cli('audit', 'head', '--json')).json<{ seq: number; hash: string }>()
    expect(JSON.parse(line)).toMatchObject({ seq: head.seq, hash: head.hash })
    expect(
      (await cli('audit', 'verify', '--anchors', join(env.home, 'audit-anchors.log'))).code,
    ).toBe(0)
  }, 30_000)

  it('/metrics reports when the newest backup was taken', async () => {
    const port = await freePort()
    const daemon = await startDaemon(vars(), ['--port', String(port)])
    try {
      const text = await (await fetch(`${daemon.url}/metrics`)).text()
      const m = /^dsh_backup_last_success_timestamp_seconds (\d+)$/m.exec(text)
      expect(m, text.slice(0, 500)).not.toBeNull()
      expect(Math.abs(Number(m![1]) - Date.now() / 1000)).toBeLessThan(600)
    } finally {
      expect(await daemon.stop()).toBe(0)
    }
  })
})
