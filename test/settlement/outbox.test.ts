import {
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { releaseItems, updateBatch } from '../../src/settlement/batches-store.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { validateOutbox } from '../helpers/pain001.js'
import { runInProcess } from '../helpers/run-cli.js'
import { addPayments, fixedClock, ok, type PaymentSpec, withStore } from './helpers.js'

// Must hold (issue 22, item 2): cancel and fail of file batches leave no file of theirs in
// outbox/ (a batch still processing keeps its files); `dsh doctor` catches a planted stray file;
// a crash between a cancel's commit and its move is repaired by the next `dsh settle`; nothing in
// outbox/void/ is ever replaced; a symlinked outbox is refused (exit 7), never followed.

interface Batch {
  id: string
  reference: string
  gateway: string
  status: string
  transfer: { adapter: string; files: string[] } | null
}
interface Stopped extends Batch {
  voidedFiles: string[]
  warning: string | null
}
interface Report {
  batches: Batch[]
  files: string[]
  voidedFiles: string[]
}

const fee = { rateBp: 100, flat: 0n, convBp: 0 }
/** Each day's payments: one M-Pesa and one card payment (two batches, four files a day). */
const day = (d: string, n: number): PaymentSpec[] => [
  {
    id: `p_m${n}`,
    branch: 'westlands',
    gateway: 'mpesa',
    amount: 150_000n,
    currency: 'KES',
    completedAt: `${d}T08:00:00.000Z`,
    fee,
  },
  {
    id: `p_s${n}`,
    branch: 'westlands',
    gateway: 'stripe',
    amount: 250_000n,
    currency: 'KES',
    completedAt: `${d}T09:00:00.000Z`,
    fee,
  },
]

const names = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : [])
const mode = (p: string) => statSync(p).mode & 0o777

describe.each(DIALECTS)('the outbox on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('holds only what should be paid', () => {
    const s = useStoreEnv(name)
    const clock = fixedClock('2026-11-30T12:00:00.000Z')
    const run = (...args: string[]) => runInProcess(args, { env: s.env, clock })
    const outbox = () => join(s.home, 'outbox')
    const voidDir = () => join(s.home, 'outbox', 'void')
    const settle = async (date: string) => {
      const r = await run('settle', '--branch', 'westlands', '--date', date, '--json')
      expect(r.code, r.stderr).toBe(0)
      return r.json<Report>()
    }
    const byGateway = (r: Report, g: string) => r.batches.find((b) => b.gateway === g) as Batch
    const filesOf = (b: Batch) => [`${b.reference}.csv`, `${b.reference}.xml`]

    beforeAll(async () => {
      for (const args of [
        ['init'],
        ['tenant', 'add', 'acme', '--name', 'Acme'],
        ['branch', 'add', 'westlands', '--tenant', 'acme', '--name', 'W', '--currency', 'KES'],
        [
          ...['branch', 'settlement-account', 'westlands', '--account-name', 'Westlands Ltd'],
          ...['--account-number', '0011223344', '--bank-name', 'KCB', '--bank-code', '01'],
          ...['--at', '02:00', '--holding-hours', '0'],
        ],
        [
          ...['tenant', 'collection-account', 'acme', '--currency', 'KES'],
          ...['--account-name', 'Acme Collections', '--account-number', '0100200300'],
          ...['--bank-name', 'KCB', '--swift', 'KCBLKENX'],
        ],
      ])
        await ok(s.env, args)
      await addPayments(s.db, [...day('2026-11-28', 1), ...day('2026-11-29', 2)])
    })

    let first: Report
    it('dsh settle prints the files it wrote (human and --json)', async () => {
      const r = await run('settle', '--branch', 'westlands', '--date', '2026-11-29')
      expect(r.code, r.stderr).toBe(0)
      const listed = await run('settlements', 'list', '--json')
      const batches = listed.json<Batch[]>()
      expect(batches).toHaveLength(2)
      const files = batches.flatMap((b) => b.transfer?.files ?? []).sort()
      expect(files).toHaveLength(4)
      expect(r.stdout).toContain('wrote 4 file(s) to upload to the bank:')
      for (const f of files) expect(r.stdout).toContain(`  ${f}\n`)
      first = { batches, files, voidedFiles: [] }
      expect(names(outbox())).toEqual(batches.flatMap(filesOf).sort())
    })

    it('cancel moves a file batch’s files to outbox/void/ (0600 in 0700), says so and warns about the bank; a processing batch keeps its files', async () => {
      const stripe = byGateway(first, 'stripe')
      const mpesa = byGateway(first, 'mpesa')
      const r = await run('settlements', 'cancel', stripe.id, '--yes', '--json')
      expect(r.code, r.stderr).toBe(0)
      const c = r.json<Stopped>()
      expect(c.status).toBe('cancelled')
      expect(c.voidedFiles).toEqual(filesOf(stripe).map((f) => join(voidDir(), f)))
      expect(c.warning).toBe(
        `if ${stripe.reference} was already uploaded to the bank, cancel it there too`,
      )
      // None of its files is left in the outbox; the M-Pesa batch (still processing) keeps its own.
      expect(names(outbox())).toEqual([...filesOf(mpesa), 'void'].sort())
      expect(names(voidDir())).toEqual(filesOf(stripe))
      expect(mode(voidDir())).toBe(0o700)
      for (const f of c.voidedFiles) expect(mode(f)).toBe(0o600)
      expect((await run('doctor')).code).toBe(0)
    })

    it('fail does the same, in words for people', async () => {
      const mpesa = byGateway(first, 'mpesa')
      const r = await run('settlements', 'fail', mpesa.id, '--reason', 'account closed')
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toBe(
        [
          `settlement ${mpesa.reference} failed; its payments are released`,
          `its files left the outbox for outbox/void/: ${filesOf(mpesa)
            .map((f) => join(voidDir(), f))
            .join(', ')}`,
          `if ${mpesa.reference} was already uploaded to the bank, cancel it there too`,
          '',
        ].join('\n'),
      )
      expect(names(outbox())).toEqual(['void'])
      expect(names(voidDir())).toEqual(
        [...filesOf(byGateway(first, 'stripe')), ...filesOf(mpesa)].sort(),
      )
      expect((await run('doctor')).code).toBe(0)
    })

    let second: Report
    let third: Report
    it('doctor catches a planted stray file, and settle moves it to void/ without replacing the one there', async () => {
      const stripe = byGateway(first, 'stripe')
      const [csv] = filesOf(stripe) as [string]
      // Someone copies a cancelled batch's file back into the outbox.
      copyFileSync(join(voidDir(), csv), join(outbox(), csv))
      writeFileSync(join(outbox(), csv), `${readFileSync(join(outbox(), csv), 'utf8')}# copy\n`)
      const d = await run('doctor', '--json')
      expect(d.code).toBe(8)
      const doc = d.json<{ ok: boolean; violations: string[] }>()
      expect(doc.ok).toBe(false)
      expect(doc.violations).toEqual([
        `outbox: ${join(outbox(), csv)} belongs to batch ${stripe.id} (${stripe.reference}), which is cancelled: it must not be uploaded; \`dsh settle\` moves it to outbox/void/`,
      ])
      expect(d.stderr).toContain(`${join(outbox(), csv)} belongs to batch ${stripe.id}`)
      // The next run puts it beside the first copy in void/, under a new name.
      second = await settle('2026-11-30')
      expect(second.voidedFiles).toEqual([join(voidDir(), csv.replace('.csv', '.1.csv'))])
      expect(readFileSync(join(voidDir(), csv), 'utf8')).not.toContain('# copy')
      expect(readFileSync(join(voidDir(), csv.replace('.csv', '.1.csv')), 'utf8')).toContain(
        '# copy',
      )
      // The run's own batches (the released payments and the next day's) are in the outbox.
      expect(names(outbox())).toEqual([...second.batches.flatMap(filesOf), 'void'].sort())
      expect((await run('doctor')).code).toBe(0)
    })

    it('doctor reports a file no batch wrote and a processing batch whose file is gone (exit 8)', async () => {
      const stray = join(outbox(), 'SETTLEMENT-0000000000.xml')
      writeFileSync(stray, '<x/>')
      writeFileSync(join(outbox(), 'notes.txt'), 'hello')
      const d = await run('doctor', '--json')
      expect(d.code).toBe(8)
      expect(d.json<{ violations: string[] }>().violations).toEqual([
        `outbox: ${stray} is not a file of any settlement batch in this store; whoever uploads the outbox would send it (move it away)`,
        `outbox: ${join(outbox(), 'notes.txt')} is not a file of any settlement batch in this store; whoever uploads the outbox would send it (move it away)`,
      ])
      unlinkSync(stray)
      unlinkSync(join(outbox(), 'notes.txt'))
      const b = second.batches[0] as Batch
      const xml = join(outbox(), `${b.reference}.xml`)
      renameSync(xml, `${xml}.away`)
      const gone = await run('doctor')
      expect(gone.code).toBe(8)
      expect(gone.stdout).toContain(
        `batch ${b.id} (${b.reference}) is processing but its file ${xml} is missing: find out whether it was uploaded to the bank, then \`dsh settlements complete\` or \`dsh settlements cancel\` it`,
      )
      renameSync(`${xml}.away`, xml)
      expect((await run('doctor')).code).toBe(0)
    })

    it('a crash between a cancel’s commit and the move: doctor reports the files, the next settle moves them', async () => {
      const b = second.batches[0] as Batch
      // The cancel's transaction as lifecycle.ts commits it; the process dies before the move.
      await withStore(s.db, (st) =>
        st.write(async (trx) => {
          const at = clock.now().toISOString()
          await updateBatch(trx, b.id, { status: 'cancelled', updated_at: at })
          await releaseItems(trx, b.id, at)
        }),
      )
      const d = await run('doctor', '--json')
      expect(d.code).toBe(8)
      expect(d.json<{ violations: string[] }>().violations).toEqual(
        filesOf(b).map(
          (f) =>
            `outbox: ${join(outbox(), f)} belongs to batch ${b.id} (${b.reference}), which is cancelled: it must not be uploaded; \`dsh settle\` moves it to outbox/void/`,
        ),
      )
      const r = await run('settle', '--branch', 'westlands', '--date', '2026-11-30')
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain(
        `moved to outbox/void/ (files of cancelled or failed batches): ${filesOf(b)
          .map((f) => join(voidDir(), f))
          .join(', ')}`,
      )
      for (const f of filesOf(b)) expect(existsSync(join(outbox(), f))).toBe(false)
      expect((await run('doctor')).code).toBe(0)
    })

    it('a symlinked outbox is refused (exit 7), never followed nor chmod-ed', async () => {
      const elsewhere = join(s.home, 'elsewhere')
      mkdirSync(elsewhere, { mode: 0o755 })
      renameSync(outbox(), join(s.home, 'outbox.real'))
      symlinkSync(elsewhere, outbox())
      try {
        await addPayments(s.db, day('2026-11-30', 3))
        clock.set('2026-12-01T12:00:00.000Z')
        const r = await run('settle', '--branch', 'westlands', '--date', '2026-12-01')
        expect(r.code).toBe(7)
        expect(r.stderr).toContain(`${outbox()} is a symbolic link`)
        const left = (await run('settlements', 'list', '--json')).json<Batch[]>()
        const live = left.filter((b) => b.status === 'processing')
        expect((await run('doctor')).code).toBe(7)
        const cancel = await run('settlements', 'cancel', (live[0] as Batch).id, '--yes')
        expect(cancel.code).toBe(7)
        expect(
          (await run('settlements', 'show', (live[0] as Batch).id, '--json')).json<Batch>().status,
        ).toBe('processing')
        expect(readdirSync(elsewhere)).toEqual([])
        expect(mode(elsewhere)).toBe(0o755)
        expect(lstatSync(outbox()).isSymbolicLink()).toBe(true)
      } finally {
        unlinkSync(outbox())
        renameSync(join(s.home, 'outbox.real'), outbox())
        rmSync(elsewhere, { recursive: true, force: true })
      }
      third = await settle('2026-12-01')
      expect(third).toMatchObject({ voidedFiles: [] })
      expect(third.batches).toHaveLength(2)
      expect(validateOutbox(s.home)).toBeGreaterThan(0)
    })

    it('a crash between the hard link into void/ and the unlink: the next move only unlinks', async () => {
      const b = third.batches[0] as Batch
      await withStore(s.db, (st) =>
        st.write(async (trx) => {
          const at = clock.now().toISOString()
          await updateBatch(trx, b.id, { status: 'failed', failure_reason: 'x', updated_at: at })
          await releaseItems(trx, b.id, at)
        }),
      )
      const [csv, xml] = filesOf(b) as [string, string]
      linkSync(join(outbox(), csv), join(voidDir(), csv)) // the move got this far
      const r = await settle('2026-12-01')
      expect(r.voidedFiles).toEqual([join(voidDir(), csv), join(voidDir(), xml)])
      expect(names(voidDir()).filter((n) => n.startsWith(b.reference))).toEqual([csv, xml])
      expect(statSync(join(voidDir(), csv)).nlink).toBe(1)
      expect(names(outbox()).filter((n) => n.startsWith(b.reference))).toEqual([])
      expect((await run('doctor')).code).toBe(0)
    })
  })
})
