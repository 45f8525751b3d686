import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { plan } from '../../src/demo/traffic.js'
import { type CliResult, dsh } from '../helpers/cli.js'
import { validateOutbox } from '../helpers/pain001.js'
import { runInProcess } from '../helpers/run-cli.js'

interface Ref {
  category: string
  reference: string
}
interface DemoDoc {
  home: string
  branches: { code: string; currency: string; timezone: string }[]
  payments: number
  batches: number
  planted: Ref[]
  found: Ref[]
}
interface Discrepancy {
  category: string
  payment: { id: string } | null
  batch: { reference: string } | null
  statementLine: { reference: string } | null
}

const sorted = (refs: readonly Ref[]) =>
  [...refs].sort(
    (a, b) => a.category.localeCompare(b.category) || a.reference.localeCompare(b.reference),
  )
const refOf = (d: Discrepancy): Ref => ({
  category: d.category,
  reference: d.payment?.id ?? d.batch?.reference ?? d.statementLine?.reference ?? '',
})

const root = mkdtempSync(join(tmpdir(), 'dsh-demo-test-'))
const home = join(root, 'home')
/** A user's own store settings: the demo must never touch them. */
const userDb = join(root, 'user', 'dsh.db')
const userHome = join(root, 'user-home')
let run: CliResult
let doc: DemoDoc
let seconds = 0

describe('dsh demo, from the built dist/ as a newcomer runs it', () => {
  beforeAll(async () => {
    const t0 = performance.now()
    run = await dsh(['demo', '--json', '--keep', '--home', home], {
      env: { DSH_HOME: userHome, DSH_DB: userDb, DSH_MASTER_KEY: 'not-a-key' },
      timeoutMs: 120_000,
    })
    seconds = (performance.now() - t0) / 1000
    // The measured duration, for the record (the contract is under a minute on a quiet machine).
    console.log(`dsh demo took ${seconds.toFixed(1)} s`)
    if (run.code !== 0) console.log(run.stderr)
    doc = run.json<DemoDoc>()
  }, 130_000)
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  it('exits 0 in under two minutes (the budget is one), reporting progress on stderr', () => {
    expect(run.code, run.stderr).toBe(0)
    expect(seconds).toBeLessThan(120)
    expect(run.stderr).toContain('KCB outage')
    expect(run.stderr).toContain('every payment is final')
    expect(run.stderr).toContain('stopped; the store stays in')
  })

  it('runs ≥ 200 payments over three branches and settles every branch', () => {
    expect(doc.home).toBe(home)
    expect(doc.branches.map((b) => [b.code, b.currency, b.timezone])).toEqual([
      ['nairobi', 'KES', 'Africa/Nairobi'],
      ['kampala', 'UGX', 'Africa/Kampala'],
      ['dar', 'TZS', 'Africa/Dar_es_Salaam'],
    ])
    expect(doc.payments).toBeGreaterThanOrEqual(200)
    expect(doc.batches).toBeGreaterThanOrEqual(3)
  })

  it('the final reconciliation finds exactly the planted problems', () => {
    expect(doc.planted.length).toBeGreaterThanOrEqual(5)
    expect(new Set(doc.planted.map((p) => p.category)).size).toBeGreaterThanOrEqual(4)
    expect(sorted(doc.found)).toEqual(sorted(doc.planted))
    // the branches bank their cash; nairobi's deposit is short, and reconciliation finds it
    expect(doc.planted.filter((p) => p.category === 'deposit_short')).toEqual([
      { category: 'deposit_short', reference: expect.stringMatching(/^CASH-[0-9A-Z]{10}$/) },
    ])
  })

  it('every pain.001 the demo wrote validates against the ISO schema (issue 22)', () => {
    expect(validateOutbox(home)).toBeGreaterThanOrEqual(1)
  })

  it('never touched the user’s DSH_HOME or DSH_DB', () => {
    expect(existsSync(userDb)).toBe(false)
    expect(existsSync(userHome)).toBe(false)
  })

  it('leaves an ordinary DSH_HOME: audit verify and doctor exit 0; every payment is final', async () => {
    const env = { DSH_HOME: home, DSH_DB: undefined, DSH_MASTER_KEY: undefined }
    const verify = await dsh(['audit', 'verify'], { env })
    expect(verify.code, verify.stderr).toBe(0)
    const doctor = await dsh(['doctor'], { env })
    expect(doctor.code, doctor.stderr).toBe(0)
    // The outbox check ran on the demo's files (issue 22): they are all live batches' files.
    expect(doctor.stdout).toMatch(
      /outbox holds only files of batches to be paid: [1-9]\d* file\(s\)/,
    )
    const open = await dsh(['payments', 'list', '--status', 'pending', '--json'], { env })
    expect(open.json()).toEqual([])
    const unknown = await dsh(['payments', 'list', '--status', 'unknown', '--json'], { env })
    expect(unknown.json()).toEqual([])
  })

  it('the scripted scenes happened: KCB outage failed over, lost callbacks and the slow answer resolved by recovery', async () => {
    const env = { DSH_HOME: home }
    const list = await runInProcess(['payments', 'list', '--limit', '1000', '--json'], { env })
    const all = list.json<{ id: string; orderId: string }[]>()
    const show = async (orderId: string) => {
      const p = all.find((x) => x.orderId === orderId)
      expect(p, orderId).toBeDefined()
      const r = await runInProcess(['payments', 'show', p?.id ?? '', '--json'], { env })
      return r.json<{
        status: string
        gateway: string
        attempts: { gateway: string; status: string; failureKind: string | null }[]
        timeline: { to: string; actor: string }[]
      }>()
    }
    for (const o of ['NBO-KCB-01', 'NBO-KCB-02', 'NBO-KCB-03']) {
      const p = await show(o)
      expect(p, `${o}: ${JSON.stringify(p.attempts)}`).toMatchObject({
        status: 'succeeded',
        gateway: 'mpesa',
      })
      expect(
        p.attempts.map((a) => [a.gateway, a.status, a.failureKind]),
        `${o}: ${JSON.stringify(p.attempts)}`,
      ).toEqual([
        ['mpesa-kcb', 'failed', 'not_attempted'],
        ['mpesa', 'succeeded', null],
      ])
    }
    const slow = await show('KAM-SLOW-01')
    // Recovery resolves it: after the read timeout made it `unknown`, or (when its first check
    // races the timeout) straight from `created`. Never a callback: Stripe sends none here.
    expect(slow.timeline.at(-1), JSON.stringify(slow.timeline)).toMatchObject({
      to: 'succeeded',
      actor: 'daemon:recovery',
    })
    expect(slow.timeline.map((t) => t.to)).toEqual(
      slow.timeline.length === 3 ? ['created', 'unknown', 'succeeded'] : ['created', 'succeeded'],
    )
    const lost = plan().filter((p) => p.story === 'lost callback')
    expect(lost).toHaveLength(5)
    for (const l of lost) {
      const p = await show(l.input.orderId ?? '')
      expect(p.timeline.at(-1), JSON.stringify(p.timeline)).toMatchObject({
        to: 'succeeded',
        actor: 'daemon:recovery',
      })
    }
  })

  it('control: the same comparison fails when the statements carry a problem nobody planted', async () => {
    const env = { DSH_HOME: home, DSH_DB: undefined, DSH_MASTER_KEY: undefined }
    // A second bank statement for Kampala with one unexplained credit.
    const extra = join(root, 'kampala-extra.csv')
    writeFileSync(
      extra,
      'Date,Value Date,Description,Reference,Debit,Credit,Balance\n' +
        `${new Date().toISOString().slice(0, 10)} 12:00:00,${new Date().toISOString().slice(0, 10)},Refund from supplier,SUP-991,,12345,12345\n`,
    )
    const imported = await dsh(
      ['reconcile', 'import', extra, '--branch', 'kampala', '--profile', 'bank'],
      { env },
    )
    expect(imported.code, imported.stderr).toBe(0)
    const found: Ref[] = []
    for (const b of doc.branches) {
      const r = await dsh(['reconcile', 'run', '--branch', b.code, '--json'], { env })
      expect(r.code, r.stderr).toBe(8)
      found.push(...r.json<{ discrepancies: Discrepancy[] }>().discrepancies.map(refOf))
    }
    expect(sorted(found)).not.toEqual(sorted(doc.planted))
    expect(sorted(found)).toEqual(
      sorted([...doc.planted, { category: 'missing_in_dsh', reference: 'SUP-991' }]),
    )
  })
})

describe('dsh demo refuses a home that is not empty', () => {
  it('exit 3, and the directory is left as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsh-demo-busy-'))
    try {
      mkdirSync(join(dir, 'mine'))
      const r = await dsh(['demo', '--home', dir])
      expect(r.code).toBe(3)
      expect(r.stderr).toContain('is not empty')
      expect(readdirSync(dir)).toEqual(['mine'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
