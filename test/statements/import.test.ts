import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/connect.js'
import { dsh } from '../helpers/cli.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { run, setUpBranches } from '../helpers/recon-env.js'

const FIX = fileURLToPath(new URL('../../fixtures/statements/', import.meta.url))

/** Every layout of the same six transactions, with the profile that reads it. */
const LAYOUTS: [file: string, profile: string][] = [
  ['de-semicolon.csv', `${FIX}de-semicolon.json`],
  ['us-dates.csv', `${FIX}us-dates.json`],
  ['bank-split.csv', 'bank'],
  ['parentheses.csv', `${FIX}parentheses.json`],
  ['latin1.csv', `${FIX}latin1.json`],
  ['crlf.csv', `${FIX}crlf.json`],
  ['quoted-utc.csv', `${FIX}quoted-utc.json`],
  ['totals-line.csv', `${FIX}totals-line.json`],
  ['mpesa.csv', 'mpesa'],
]

const CANONICAL = [
  ['2026-11-03T06:15:22.000Z', '123456', 'QKC1A2B3C4', 'Payment from JOHN DOE', '1123456'],
  ['2026-11-03T07:02:05.000Z', '-25000', 'QKC1A2B3C5', 'Charges, bank', '1098456'],
  ['2026-11-03T09:30:00.000Z', '45000', 'QKC1A2B3C6', 'Coffee', '1143456'],
  ['2026-11-03T09:30:00.000Z', '45000', 'QKC1A2B3C7', 'Coffee', '1188456'],
  ['2026-11-04T05:00:00.000Z', '-1200000', 'QKC1A2B3C8', 'Transfer; to savings', '-11544'],
  ['2026-11-04T14:45:10.000Z', '100000050', 'QKC1A2B3C9', 'Café deposit', '99988506'],
]

async function linesOf(db: string, statementId: string) {
  const store = await openStore(db)
  try {
    const rows = await store.db
      .selectFrom('statement_lines')
      .select([
        'booked_at',
        'amount_minor',
        'currency',
        'reference',
        'description',
        'balance_minor',
      ])
      .where('statement_id', '=', statementId)
      .orderBy('booked_at')
      .orderBy('reference')
      .execute()
    return rows.map((r) => {
      expect(r.currency).toBe('KES')
      return [
        r.booked_at,
        String(r.amount_minor),
        r.reference,
        r.description,
        String(r.balance_minor),
      ]
    })
  } finally {
    await store.close()
  }
}

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

interface ImportJson {
  statementId: string
  lines: number
  imported: number
  alreadyPresent: number
  rejected: number
  period: { from: string; to: string }
  balanceBreaks: { line: number; expected: string; actual: string }[]
}

describe.each(DIALECTS)('statement import ($name)', ({ name, enabled }) => {
  const s = useStoreEnv(name)
  const tmp = mkdtempSync(join(tmpdir(), 'dsh-stmt-'))
  afterAll(() => rmSync(tmp, { recursive: true, force: true }))
  beforeAll(async () => {
    if (enabled) await setUpBranches(s.env, ['westlands', 'karen', 'kampala'])
  }, 60_000)
  const imp = (file: string, profile: string, ...more: string[]) =>
    run(s.env, [
      'reconcile',
      'import',
      file,
      '--branch',
      'westlands',
      '--profile',
      profile,
      '--json',
      ...more,
    ])

  it.runIf(enabled)(`${LAYOUTS.length} layouts parse to the same canonical rows`, async () => {
    for (const [file, profile] of LAYOUTS) {
      const r = (await imp(`${FIX}${file}`, profile)).json<ImportJson>()
      expect(r, file).toMatchObject({
        lines: 6,
        imported: 6,
        alreadyPresent: 0,
        rejected: 0,
        balanceBreaks: [],
      })
      expect(await linesOf(s.db, r.statementId), file).toEqual(CANONICAL)
    }
  })

  it.runIf(enabled)(
    'the M-Pesa preamble gives the period; its To day counts whole (Nairobi)',
    async () => {
      const r = (
        await run(s.env, [
          'reconcile',
          'import',
          `${FIX}mpesa.csv`,
          '--branch',
          'karen',
          '--profile',
          'mpesa',
          '--json',
        ])
      ).json<ImportJson>()
      expect(r.period).toEqual({ from: '2026-11-02T21:00:00.000Z', to: '2026-11-04T21:00:00.000Z' })
    },
  )

  it.runIf(enabled)(
    're-importing adds nothing; overlapping statements merge to their exact union',
    async () => {
      const again = (await imp(`${FIX}crlf.csv`, `${FIX}crlf.json`)).json<ImportJson>()
      expect(again).toMatchObject({ lines: 6, imported: 0, alreadyPresent: 6, rejected: 0 })
      const before = await countLines(s.db)
      // A: rows 1-4 (with two equal coffee rows), B: rows 3-6: the union has six distinct rows plus
      // the second identical coffee row of A, which B has once.
      const head = 'Date,Reference,Narrative,Amount,Balance'
      const coffee = '03/11/2026 12:30:00,,Coffee,450.00,'
      const a = [
        head,
        '03/11/2026 09:15:22,R1,Lunch,"1,234.56",',
        '03/11/2026 10:02:05,R2,Tea,250.00,',
        coffee,
        coffee,
      ]
      const b = [
        head,
        coffee,
        '04/11/2026 08:00:00,R5,Dinner,99.00,',
        '04/11/2026 17:45:10,R6,Cake,12.00,',
      ]
      writeFileSync(join(tmp, 'a.csv'), `${a.join('\n')}\n`)
      writeFileSync(join(tmp, 'b.csv'), `${b.join('\n')}\n`)
      const ra = (await imp(join(tmp, 'a.csv'), `${FIX}crlf.json`)).json<ImportJson>()
      expect(ra).toMatchObject({ lines: 4, imported: 4, alreadyPresent: 0 })
      const rb = (await imp(join(tmp, 'b.csv'), `${FIX}crlf.json`)).json<ImportJson>()
      expect(rb).toMatchObject({ lines: 3, imported: 2, alreadyPresent: 1 })
      const rab = (await imp(join(tmp, 'a.csv'), `${FIX}crlf.json`)).json<ImportJson>()
      expect(rab).toMatchObject({ statementId: ra.statementId, imported: 0, alreadyPresent: 4 })
      expect(await countLines(s.db)).toBe(before + 6)
    },
  )

  it.runIf(enabled)(
    'a second occurrence of a transaction id is imported (reported later as a duplicate)',
    async () => {
      const head =
        'Receipt No.,Completion Time,Initiation Time,Details,Transaction Status,Paid In,Withdrawn,Balance,Balance Confirmed,Reason Type,Other Party Info,Linked Transaction ID,A/C No.'
      const row =
        'QDUP000001,05-11-2026 10:00:00,05-11-2026 10:00:00,Pay Bill,Completed,100.00,,,true,Pay Bill Online,,,'
      writeFileSync(join(tmp, 'dup.csv'), `${head}\n${row}\n${row}\n`)
      const r = (
        await run(s.env, [
          'reconcile',
          'import',
          join(tmp, 'dup.csv'),
          '--branch',
          'kampala',
          '--profile',
          'mpesa',
          '--json',
        ])
      ).json<ImportJson>()
      expect(r).toMatchObject({ lines: 2, imported: 2 })
    },
  )

  it.runIf(enabled)(
    'a broken running balance is reported by line and on stderr, and still imported',
    async () => {
      const text = readFileSync(`${FIX}us-dates.csv`, 'utf8').split('\n')
      // Drop the third data row: the fourth row's balance no longer follows.
      const broken = [...text.slice(0, 3), ...text.slice(4)].join('\n')
      writeFileSync(join(tmp, 'gap.csv'), broken)
      const r = await run(s.env, [
        'reconcile',
        'import',
        join(tmp, 'gap.csv'),
        '--branch',
        'karen',
        '--profile',
        `${FIX}us-dates.json`,
        '--json',
      ])
      expect(r.json<ImportJson>()).toMatchObject({
        lines: 5,
        imported: 5,
        balanceBreaks: [
          {
            line: 4,
            expectedMinor: 1143456,
            expected: '11434.56',
            actualMinor: 1188456,
            actual: '11884.56',
            currency: 'KES',
          },
        ],
      })
      expect(r.stderr).toContain(
        'gap.csv:4: running balance breaks: expected 11434.56 got 11884.56 KES',
      )
    },
  )

  it.runIf(enabled)('--dry-run writes nothing; stdin works with -', async () => {
    const before = await countLines(s.db)
    const dry = (
      await run(s.env, [
        'reconcile',
        'import',
        `${FIX}us-dates.csv`,
        '--branch',
        'kampala',
        '--profile',
        `${FIX}us-dates.json`,
        '--dry-run',
        '--json',
      ])
    ).json<ImportJson>()
    expect(dry).toMatchObject({ lines: 6, imported: 6 })
    expect(await countLines(s.db)).toBe(before)
    const viaStdin = await dsh(
      [
        'reconcile',
        'import',
        '-',
        '--branch',
        'kampala',
        '--profile',
        `${FIX}us-dates.json`,
        '--json',
      ],
      { env: s.env, input: readFileSync(`${FIX}us-dates.csv`, 'utf8') },
    )
    expect(viaStdin.code, viaStdin.stderr).toBe(0)
    expect(viaStdin.json()).toMatchObject({ file: 'stdin', lines: 6, imported: 6 })
    expect(await countLines(s.db)).toBe(before + 6)
  })

  describe('broken files: exit 3 naming file and line, nothing imported', () => {
    const head = 'Date,Reference,Narrative,Amount,Balance'
    const cases: [string, string, string, string][] = [
      [
        'unclosed quote',
        `${head}\n03/11/2026 09:15:22,R1,"Lunch,12.00,\n03/11/2026 09:16:22,R2,Tea,1.00,\n`,
        'crlf',
        'unclosed.csv:2:',
      ],
      [
        'wrong column count',
        `${head}\n03/11/2026 09:15:22,R1,Lunch,12.00,\n03/11/2026 09:16:22,R2,Tea\n`,
        'crlf',
        'wrong-columns.csv:3:4: expected 5 columns, got 3',
      ],
      [
        'impossible date',
        `${head}\n31/02/2026 09:15:22,R1,Lunch,12.00,\n`,
        'crlf',
        'bad-date.csv:2:1: bookedAt: "31/02/2026 09:15:22" is not a real date/time',
      ],
      [
        '3 decimals in KES',
        `${head}\n03/11/2026 09:15:22,R1,Lunch,12.005,\n`,
        'crlf',
        'kes-decimals.csv:2:4: amount: "12.005" has 3 decimals; KES allows at most 2',
      ],
      [
        '1 decimal in UGX',
        `${head}\n03/11/2026 09:15:22,R1,Lunch,1200.5,\n`,
        'ugx',
        'ugx-decimals.csv:2:4: amount: "1200.5" has 1 decimal; UGX allows none',
      ],
    ]
    const files = [
      'unclosed.csv',
      'wrong-columns.csv',
      'bad-date.csv',
      'kes-decimals.csv',
      'ugx-decimals.csv',
    ]
    it.runIf(enabled).each(cases.map((c, i) => [...c, files[i] as string] as const))(
      '%s',
      async (_label, body, profile, message, file) => {
        const path = join(tmp, file)
        writeFileSync(path, `${body}03/11/2026 10:00:00,R9,After,5.00,\n`)
        let profilePath = `${FIX}crlf.json`
        if (profile === 'ugx') {
          profilePath = join(tmp, 'ugx.json')
          const p = JSON.parse(readFileSync(`${FIX}crlf.json`, 'utf8'))
          writeFileSync(profilePath, JSON.stringify({ ...p, name: 'ugx', currency: 'UGX' }))
        }
        const before = await countLines(s.db)
        const r = await run(
          s.env,
          ['reconcile', 'import', path, '--branch', 'kampala', '--profile', profilePath],
          3,
        )
        expect(r.stderr).toContain(`${path.replace(file, '')}${message}`)
        expect(await countLines(s.db)).toBe(before)
      },
    )
    it.runIf(enabled)('an unknown profile', async () => {
      const r = await run(
        s.env,
        ['reconcile', 'import', `${FIX}mpesa.csv`, '--branch', 'kampala', '--profile', 'equity'],
        3,
      )
      expect(r.stderr).toContain('unknown statement profile "equity"')
      const missing = await run(
        s.env,
        [
          'reconcile',
          'import',
          `${FIX}mpesa.csv`,
          '--branch',
          'kampala',
          '--profile',
          './nope.json',
        ],
        3,
      )
      expect(missing.stderr).toContain('no profile file ./nope.json')
    })
    it.runIf(enabled)(
      '--skip-bad-rows writes the rejects and imports the rest, and says so',
      async () => {
        const path = join(tmp, 'mixed.csv')
        writeFileSync(
          path,
          `${head}\n03/11/2026 09:15:22,S1,Lunch,12.005,\n03/11/2026 09:16:22,S2,Tea,1.00,\n`,
        )
        const rejects = join(tmp, 'rejects.csv')
        const r = await run(s.env, [
          'reconcile',
          'import',
          path,
          '--branch',
          'kampala',
          '--profile',
          `${FIX}crlf.json`,
          '--skip-bad-rows',
          rejects,
          '--json',
        ])
        expect(r.json()).toMatchObject({ lines: 2, imported: 1, rejected: 1 })
        expect(r.stderr).toContain(`1 row(s) rejected; written to ${rejects}`)
        expect(readFileSync(rejects, 'utf8')).toBe(
          'line,column,error,row\n2,4,"amount: ""12.005"" has 3 decimals; KES allows at most 2","03/11/2026 09:15:22,S1,Lunch,12.005,"\n',
        )
      },
    )
  })
})
