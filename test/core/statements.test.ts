import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { toDecimalString } from '../../src/core/money/index.js'
import {
  DEFAULT_OPTIONS,
  type LineIn,
  matchPayments,
  type PaymentIn,
} from '../../src/core/reconciliation/match.js'
import {
  parseStatementAmount,
  parseStatementDate,
  phoneDigitsAgree,
} from '../../src/core/statements/canonical.js'
import { parseProfile } from '../../src/core/statements/profile.js'

const US = { decimalMark: '.', thousandsMark: ',' }
const DE = { decimalMark: ',', thousandsMark: '.' }

describe('statement amounts', () => {
  it('formatting and re-parsing gives the same minor units (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), (minor) => {
        const text = toDecimalString({ minor, currency: 'KES' })
        expect(parseStatementAmount(text, US, 'KES')).toBe(minor)
        const grouped = text.replace(/\B(?=(\d{3})+(?!\d))(?=.*\.)/g, ',')
        expect(parseStatementAmount(grouped, US, 'KES')).toBe(minor)
        const de = grouped.replaceAll(',', ' ').replace('.', ',').replaceAll(' ', '.')
        expect(parseStatementAmount(de, DE, 'KES')).toBe(minor)
      }),
    )
  })
  it('reads signs, parentheses and trailing minus; refuses what it cannot be sure of', () => {
    expect(parseStatementAmount('(1,234.56)', US, 'KES')).toBe(-123456n)
    expect(parseStatementAmount('1,234.56-', US, 'KES')).toBe(-123456n)
    expect(parseStatementAmount('+5', US, 'KES')).toBe(500n)
    expect(parseStatementAmount('', US, 'KES')).toBeNull()
    expect(parseStatementAmount('1.234,5', DE, 'KES')).toBe(123450n)
    expect(() => parseStatementAmount('12.005', US, 'KES')).toThrow(
      '"12.005" has 3 decimals; KES allows at most 2',
    )
    expect(() => parseStatementAmount('1200.5', US, 'UGX')).toThrow(
      '"1200.5" has 1 decimal; UGX allows none',
    )
    expect(() => parseStatementAmount('1,23.00', US, 'KES')).toThrow(
      'misplaced thousands separators',
    )
    expect(() => parseStatementAmount('12,50', US, 'KES')).toThrow('misplaced thousands separators')
    expect(() => parseStatementAmount('KES 5', US, 'KES')).toThrow('is not an amount')
  })
})

describe('statement dates', () => {
  it('reads wall-clock time in the profile time zone', () => {
    expect(
      new Date(
        parseStatementDate('03-11-2026 09:15:22', ['dd-mm-yyyy HH:MM:SS'], 'Africa/Nairobi').ms,
      ).toISOString(),
    ).toBe('2026-11-03T06:15:22.000Z')
    expect(new Date(parseStatementDate('11/03/2026', ['mm/dd/yyyy'], 'UTC').ms).toISOString()).toBe(
      '2026-11-03T00:00:00.000Z',
    )
    // A zone with summer time: the offset of that day.
    expect(
      new Date(
        parseStatementDate('2026-07-01 12:00:00', ['yyyy-mm-dd HH:MM:SS'], 'Europe/London').ms,
      ).toISOString(),
    ).toBe('2026-07-01T11:00:00.000Z')
  })
  it('refuses impossible dates instead of rolling them over', () => {
    expect(() => parseStatementDate('31-02-2026 10:00:00', ['dd-mm-yyyy HH:MM:SS'], 'UTC')).toThrow(
      'not a real date',
    )
    expect(() => parseStatementDate('01-13-2026', ['dd-mm-yyyy'], 'UTC')).toThrow('not a real date')
    expect(() => parseStatementDate('01-12-2026 24:00:00', ['dd-mm-yyyy HH:MM:SS'], 'UTC')).toThrow(
      'not a real date',
    )
    expect(() => parseStatementDate('2026/12/01', ['dd-mm-yyyy'], 'UTC')).toThrow(
      'is not a date in the format dd-mm-yyyy',
    )
  })
})

describe('masked phones', () => {
  it('compares the digits both show, never the masks as text', () => {
    expect(phoneDigitsAgree('254712***678 - JOHN', '254712345678')).toBe(true)
    expect(phoneDigitsAgree('254712***679 - JOHN', '254712345678')).toBe(false)
    expect(phoneDigitsAgree('', '254712345678')).toBe(true)
    expect(phoneDigitsAgree('254712***678', null)).toBe(true)
  })
})

describe('the matcher', () => {
  const T0 = Date.UTC(2026, 10, 3, 6)
  const lines: LineIn[] = []
  const payments: PaymentIn[] = []
  for (let i = 0; i < 60; i++) {
    const amount = BigInt(1000 + (i % 7) * 100)
    payments.push({
      id: `p${String(i).padStart(2, '0')}`,
      status: i % 11 === 0 ? 'needs_review' : 'succeeded',
      receiptNumber: i % 3 === 0 ? null : `R${i}`,
      amountMinor: amount,
      currency: 'KES',
      createdAtMs: T0 + i * 60_000,
      phone: null,
    })
    if (i % 13 !== 5)
      lines.push({
        id: `l${String(i).padStart(2, '0')}`,
        bookedAtMs: T0 + i * 60_000 + 20_000,
        amountMinor: i % 17 === 4 ? amount + 1n : amount,
        currency: 'KES',
        transactionId: `R${i}`,
        reference: `R${i}`,
        counterparty: '',
      })
  }
  const options = { ...DEFAULT_OPTIONS, coverage: [[T0, T0 + 86_400_000]] as const }
  const none = { ignoredLines: new Set<string>(), rejectedPairs: new Set<string>() }

  it('gives the same result whatever the order of its inputs (shuffled property)', () => {
    const expected = JSON.stringify(matchPayments(lines, payments, [], none, options), (_k, v) =>
      typeof v === 'bigint' ? v.toString() : v,
    )
    fc.assert(
      fc.property(
        fc.shuffledSubarray(lines, { minLength: lines.length }),
        fc.shuffledSubarray(payments, { minLength: payments.length }),
        (ls, ps) => {
          const got = JSON.stringify(matchPayments(ls, ps, [], none, options), (_k, v) =>
            typeof v === 'bigint' ? v.toString() : v,
          )
          expect(got).toBe(expected)
        },
      ),
      { numRuns: 50 },
    )
  })

  it('uses every payment and line at most once, and never guesses between equal candidates', () => {
    const r = matchPayments(lines, payments, [], none, options)
    const ps = r.matches.map((m) => m.paymentId)
    const ls = r.matches.map((m) => m.lineId)
    expect(new Set(ps).size).toBe(ps.length)
    expect(new Set(ls).size).toBe(ls.length)
    const twins = matchPayments(
      [{ ...(lines[0] as LineIn), transactionId: 'NEW' }],
      [
        { ...(payments[0] as PaymentIn), id: 'a', status: 'succeeded', receiptNumber: null },
        { ...(payments[0] as PaymentIn), id: 'b', status: 'succeeded', receiptNumber: null },
      ],
      [],
      none,
      options,
    )
    expect(twins.matches).toEqual([])
    expect(twins.findings).toMatchObject([
      { category: 'ambiguous', suggestion: expect.stringContaining('candidates: a, b') },
    ])
  })
})

describe('profiles', () => {
  it('the README example profile is valid', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
    const block = /\*\*Profiles\.\*\*[\s\S]*?```json\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(block).toBeDefined()
    const p = parseProfile('README', JSON.parse(block as string))
    expect(p).toMatchObject({
      name: 'kcb-ke',
      kind: 'bank',
      separator: ';',
      encoding: 'latin1',
      currency: 'KES',
    })
  })
  it('refuses unknown keys, columns and a missing amount', () => {
    expect(() =>
      parseProfile('p.json', {
        name: 'x',
        dateFormat: 'yyyy-mm-dd',
        columns: { bookedAt: 0, amount: 1 },
        colour: 1,
      }),
    ).toThrow('p.json: unknown key "colour"')
    expect(() =>
      parseProfile('p.json', {
        name: 'x',
        dateFormat: 'yyyy-mm-dd',
        columns: { bookedAt: 'Date', total: 'T' },
      }),
    ).toThrow('unknown column "total"')
    expect(() =>
      parseProfile('p.json', {
        name: 'x',
        dateFormat: 'yyyy-mm-dd',
        columns: { bookedAt: 'Date' },
      }),
    ).toThrow('map either "amount" or "debit" and "credit"')
  })
})
