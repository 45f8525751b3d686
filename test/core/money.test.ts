import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DshError } from '../../src/core/errors.js'
import {
  add,
  allocate,
  applyRate,
  CURRENCY_CODES,
  currency,
  divRoundHalfUp,
  formatMoney,
  formatPercent,
  isCurrency,
  isNegative,
  type Money,
  money,
  moneyFields,
  parseAmount,
  parseNonNegativeAmount,
  parsePercent,
  parsePositiveAmount,
  rescale,
  subtract,
  sum,
  toDecimalString,
  zero,
} from '../../src/core/money/index.js'

// ---------------------------------------------------------------------------------------------
// helpers

const EXPONENTS: Record<string, number> = {
  KES: 2,
  UGX: 0,
  TZS: 2,
  RWF: 0,
  BIF: 0,
  CDF: 2,
  SSP: 2,
  USD: 2,
}

/** Runs `fn` and returns the DshError it throws; fails the test when it throws anything else. */
function dshErrorOf(fn: () => unknown): DshError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(DshError)
    return e as DshError
  }
  throw new Error('expected a DshError, but nothing was thrown')
}

const code = fc.constantFrom(...CURRENCY_CODES)
/** parseAmount's ceiling: Number.MAX_SAFE_INTEGER minor units either side of zero. */
const withinCeiling = (m: bigint) => (m < 0n ? -m : m) <= BigInt(Number.MAX_SAFE_INTEGER)
/** Small, medium and huge minor amounts (well beyond 2^53), both signs. */
const minor = fc.oneof(
  fc.bigInt({ min: -1_000n, max: 1_000n }),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }),
  fc.bigInt({ min: -(10n ** 60n), max: 10n ** 60n }),
  fc.constantFrom(
    0n,
    -1n,
    1n,
    99n,
    100n,
    -100n,
    2n ** 53n,
    2n ** 53n + 1n,
    -(2n ** 53n) - 1n,
    2n ** 63n,
  ),
)
const anyMoney = fc.record({ minor, currency: code })
const RUNS = { numRuns: 2_000 }

// ---------------------------------------------------------------------------------------------

describe('currency table', () => {
  it('has exactly the documented currencies and exponents', () => {
    expect([...CURRENCY_CODES].sort()).toEqual(Object.keys(EXPONENTS).sort())
    for (const [c, exponent] of Object.entries(EXPONENTS)) {
      expect(currency(c)).toMatchObject({ code: c, exponent })
    }
  })

  it('looks codes up case-insensitively and normalises them', () => {
    expect(currency('kes').code).toBe('KES')
    expect(currency(' usd ').code).toBe('USD')
    expect(money(1n, 'ugx')).toEqual({ minor: 1n, currency: 'UGX' })
    expect(isCurrency('Kes')).toBe(true)
    expect(isCurrency('XYZ')).toBe(false)
  })

  it('rejects an unknown currency with a validation error naming it (never a default of 2)', () => {
    for (const fn of [
      () => currency('XYZ'),
      () => money(1n, 'XYZ'),
      () => parseAmount('1', 'XYZ'),
      () => toDecimalString({ minor: 1n, currency: 'XYZ' }),
      () => formatMoney({ minor: 1n, currency: 'XYZ' }),
    ]) {
      const err = dshErrorOf(fn)
      expect(err.kind).toBe('validation')
      expect(err.code).toBe('unknown_currency')
      expect(err.message).toContain('XYZ')
      expect(err.hint).toContain('KES')
    }
    expect(dshErrorOf(() => currency('')).kind).toBe('validation')
  })
})

describe('parseAmount', () => {
  it.each([
    ['1,500.50', 'KES', 150050n],
    ['1500', 'KES', 150000n],
    ['1500.5', 'KES', 150050n],
    ['-12.5', 'KES', -1250n],
    ['+12.5', 'KES', 1250n],
    ['0', 'KES', 0n],
    ['-0', 'KES', 0n],
    ['0.01', 'USD', 1n],
    ['-0.05', 'TZS', -5n],
    ['1,234,567.89', 'USD', 123456789n],
    ['100', 'UGX', 100n],
    ['1,500,000', 'UGX', 1500000n],
    ['999', 'RWF', 999n],
    ['12', 'kes', 1200n],
    // documented behaviour: surrounding whitespace is trimmed (parse.ts calls input.trim())
    [' 12 ', 'KES', 1200n],
    ['\t12.50\n', 'KES', 1250n],
    ['9007199254740991', 'UGX', 9007199254740991n],
    ['90071992547409.91', 'KES', 9007199254740991n],
    ['-90071992547409.91', 'KES', -9007199254740991n],
  ])('%j in %s → %s', (input, c, expected) => {
    expect(parseAmount(input, c)).toEqual({ minor: expected, currency: c.toUpperCase() })
  })

  it.each([
    ['9007199254740992', 'UGX', '9007199254740991 UGX'],
    ['90071992547409.92', 'KES', '90071992547409.91 KES'],
    ['-90071992547409.92', 'KES', '90071992547409.91 KES'],
    ['92233720368547758.08', 'KES', '90071992547409.91 KES'],
  ])('refuses %j in %s: more than Number.MAX_SAFE_INTEGER minor units', (input, c, largest) => {
    const e = dshErrorOf(() => parseAmount(input, c))
    expect(e.kind).toBe('validation')
    expect(e.code).toBe('amount_too_large')
    expect(e.message).toBe(`"${input}" is more than the largest accepted amount, ${largest}`)
  })

  it('rejects more decimals than the currency allows, naming the currency and its decimals', () => {
    const kes = dshErrorOf(() => parseAmount('12.345', 'KES'))
    expect(kes.kind).toBe('validation')
    expect(kes.code).toBe('too_many_decimals')
    expect(kes.message).toContain('KES')
    expect(kes.message).toMatch(/at most 2/)
    expect(kes.message).toContain('12.345')

    const ugx = dshErrorOf(() => parseAmount('100.5', 'UGX'))
    expect(ugx.kind).toBe('validation')
    expect(ugx.code).toBe('too_many_decimals')
    expect(ugx.message).toContain('UGX')
    expect(ugx.message).toMatch(/none|whole/)
    expect(ugx.hint).toContain('UGX')

    // trailing zeros are still decimals the currency does not have: never rounded away
    expect(dshErrorOf(() => parseAmount('100.0', 'UGX')).code).toBe('too_many_decimals')
    expect(dshErrorOf(() => parseAmount('1.001', 'USD')).code).toBe('too_many_decimals')
    expect(dshErrorOf(() => parseAmount('1.000', 'USD')).code).toBe('too_many_decimals')
  })

  it.each([
    '1,50.00',
    '1,5000',
    '15,00',
    ',100',
    '100,',
    '1,,000',
    'abc',
    '',
    '   ',
    '1.2.3',
    '1e5',
    '1E5',
    '12.',
    '.5',
    '-',
    '--1',
    '+-1',
    '1-',
    '1 500',
    '0x10',
    '0b1',
    'Infinity',
    'NaN',
    '1_000',
    '١٢٣',
    '１２',
    'KES 12',
    '12 KES',
    '$12',
    '12,50',
  ])('rejects %j as not an amount', (input) => {
    const err = dshErrorOf(() => parseAmount(input, 'KES'))
    expect(err.kind).toBe('validation')
    expect(err.code).toBe('invalid_amount')
    expect(err.message).toContain(`"${input}"`)
  })

  it('parseNonNegativeAmount and parsePositiveAmount enforce the sign', () => {
    expect(parseNonNegativeAmount('0', 'KES').minor).toBe(0n)
    expect(parseNonNegativeAmount('1', 'KES').minor).toBe(100n)
    expect(dshErrorOf(() => parseNonNegativeAmount('-0.01', 'KES')).code).toBe('negative_amount')
    expect(parsePositiveAmount('0.01', 'KES').minor).toBe(1n)
    expect(dshErrorOf(() => parsePositiveAmount('0', 'KES')).code).toBe('non_positive_amount')
    expect(dshErrorOf(() => parsePositiveAmount('-0', 'KES')).code).toBe('non_positive_amount')
    expect(dshErrorOf(() => parsePositiveAmount('-5', 'UGX')).kind).toBe('validation')
    expect(dshErrorOf(() => parsePositiveAmount('5.5', 'UGX')).code).toBe('too_many_decimals')
  })

  it('property: toDecimalString → parseAmount is the identity, for every currency and bigint', () => {
    fc.assert(
      fc.property(anyMoney, (m) => {
        const text = toDecimalString(m)
        const exponent = EXPONENTS[m.currency]!
        // exactly the currency's decimals, no exponent notation, no float artefacts
        expect(text).toMatch(exponent === 0 ? /^-?\d+$/ : new RegExp(`^-?\\d+\\.\\d{${exponent}}$`))
        if (withinCeiling(m.minor)) expect(parseAmount(text, m.currency)).toEqual(m)
        else expect(dshErrorOf(() => parseAmount(text, m.currency)).code).toBe('amount_too_large')
      }),
      RUNS,
    )
  })

  it('property: formatMoney without the currency prefix parses back to the same amount', () => {
    fc.assert(
      fc.property(anyMoney, (m) => {
        const shown = formatMoney(m)
        const exponent = EXPONENTS[m.currency]!
        const frac = exponent === 0 ? '' : `\\.\\d{${exponent}}`
        expect(shown).toMatch(new RegExp(`^-?${m.currency} \\d{1,3}(,\\d{3})*${frac}$`))
        const withoutCode = shown.replace(`${m.currency} `, '')
        if (withinCeiling(m.minor)) expect(parseAmount(withoutCode, m.currency)).toEqual(m)
        else
          expect(dshErrorOf(() => parseAmount(withoutCode, m.currency)).code).toBe(
            'amount_too_large',
          )
      }),
      RUNS,
    )
  })

  it('property: any string either parses exactly or fails with a validation error', () => {
    // An alphabet where interesting strings are likely; compare against an independent reading.
    const noise = fc.string({
      unit: fc.constantFrom('0', '1', '5', '9', ',', '.', '-', '+', ' ', 'e'),
      maxLength: 14,
    })
    // near misses: digit groups of 1–4 joined by commas, 0–4 decimals, optional sign and padding
    const digitRun = (min: number, max: number) =>
      fc.string({ unit: fc.constantFrom('0', '1', '7', '9'), minLength: min, maxLength: max })
    const nearAmount = fc
      .tuple(
        fc.constantFrom('', '-', '+', ' ', '-+'),
        fc.array(digitRun(1, 4), { minLength: 1, maxLength: 4 }),
        fc.option(digitRun(0, 4)),
        fc.constantFrom('', ' ', '.', ','),
      )
      .map(([sign, groups, fraction, tail]) =>
        [sign, groups.join(','), fraction === null ? '' : `.${fraction}`, tail].join(''),
      )
    const text = fc.oneof(noise, nearAmount)
    fc.assert(
      fc.property(text, code, (input, c) => {
        const exponent = EXPONENTS[c]!
        let result: Money
        try {
          result = parseAmount(input, c)
        } catch (e) {
          expect(e).toBeInstanceOf(DshError)
          expect((e as DshError).kind).toBe('validation')
          return
        }
        // accepted: it must be a well-formed amount with at most `exponent` decimals …
        const t = input.trim()
        const shape = /^([+-]?)(\d+|\d{1,3}(?:,\d{3})+)(?:\.(\d+))?$/.exec(t)
        expect(shape).not.toBeNull()
        const [, sign = '', whole = '', fraction = ''] = shape!
        expect(fraction.length).toBeLessThanOrEqual(exponent)
        // … and its value is the digits read as an integer of minor units
        const digits = `${whole.split(',').join('')}${fraction}${'0'.repeat(exponent - fraction.length)}`
        let value = 0n
        for (const d of digits) value = value * 10n + BigInt(d.charCodeAt(0) - 48)
        expect(result).toEqual({ minor: sign === '-' ? -value : value, currency: c })
      }),
      { numRuns: 5_000 },
    )
  })

  it('property: every well-formed amount with the right decimals is accepted', () => {
    const wellFormed = fc
      .tuple(
        fc.constantFrom('', '-', '+'),
        fc.bigInt({ min: 0n, max: 10n ** 30n }),
        fc.boolean(),
        code,
        fc.nat(),
      )
      .map(([sign, whole, grouped, c, f]) => {
        const exponent = EXPONENTS[c]!
        const fracDigits = exponent === 0 ? 0 : f % (exponent + 1)
        const fraction =
          fracDigits === 0 ? '' : `.${String(f % 10 ** fracDigits).padStart(fracDigits, '0')}`
        const w = grouped
          ? whole.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')
          : whole.toString()
        return { text: `${sign}${w}${fraction}`, c }
      })
    fc.assert(
      fc.property(wellFormed, ({ text, c }) => {
        const digits = BigInt(text.replace(/[^0-9]/g, '') || '0')
        const exponent = EXPONENTS[c]!
        const fracDigits = text.includes('.') ? (text.split('.')[1] ?? '').length : 0
        const minorUnits = digits * 10n ** BigInt(exponent - fracDigits)
        if (withinCeiling(minorUnits)) expect(() => parseAmount(text, c)).not.toThrow()
        else expect(dshErrorOf(() => parseAmount(text, c)).code).toBe('amount_too_large')
      }),
      RUNS,
    )
  })
})

describe('toDecimalString, formatMoney, moneyFields', () => {
  it.each([
    [150050n, 'KES', '1500.50', 'KES 1,500.50'],
    [5n, 'KES', '0.05', 'KES 0.05'],
    [-5n, 'KES', '-0.05', '-KES 0.05'],
    [0n, 'USD', '0.00', 'USD 0.00'],
    [-150050n, 'TZS', '-1500.50', '-TZS 1,500.50'],
    [1500000n, 'UGX', '1500000', 'UGX 1,500,000'],
    [0n, 'RWF', '0', 'RWF 0'],
    [-1000n, 'BIF', '-1000', '-BIF 1,000'],
    [999n, 'BIF', '999', 'BIF 999'],
    [100000n, 'CDF', '1000.00', 'CDF 1,000.00'],
    [12345678901234567890n, 'SSP', '123456789012345678.90', 'SSP 123,456,789,012,345,678.90'],
  ])('%s %s → %s / %s', (m, c, plain, shown) => {
    expect(toDecimalString({ minor: m, currency: c })).toBe(plain)
    expect(formatMoney({ minor: m, currency: c })).toBe(shown)
  })

  it('moneyFields gives the minor units, the exact decimal string and the currency', () => {
    expect(moneyFields('amount', money(150050n, 'KES'))).toEqual({
      amountMinor: 150050n,
      amount: '1500.50',
      currency: 'KES',
    })
  })
})

describe('add, subtract, sum, rescale', () => {
  const kes = (n: bigint) => money(n, 'KES')

  it('adds and subtracts within a currency', () => {
    expect(add(kes(150n), kes(-50n))).toEqual(kes(100n))
    expect(subtract(kes(150n), kes(200n))).toEqual(kes(-50n))
    expect(sum('KES', [kes(1n), kes(2n), kes(3n)])).toEqual(kes(6n))
    expect(sum('UGX', [])).toEqual(zero('UGX'))
    expect(isNegative(kes(-1n))).toBe(true)
    expect(isNegative(kes(0n))).toBe(false)
  })

  it('throws a currency mismatch across currencies', () => {
    for (const fn of [
      () => add(kes(1n), money(1n, 'UGX')),
      () => subtract(money(1n, 'USD'), kes(1n)),
      () => sum('KES', [kes(1n), money(1n, 'TZS')]),
      () => sum('UGX', [kes(1n)]),
    ]) {
      const err = dshErrorOf(fn)
      expect(err.kind).toBe('validation')
      expect(err.code).toBe('currency_mismatch')
    }
    expect(dshErrorOf(() => add(kes(1n), money(1n, 'UGX'))).message).toMatch(/KES.*UGX/)
  })

  it('property: add and subtract are exact inverses and commute', () => {
    fc.assert(
      fc.property(minor, minor, code, (a, b, c) => {
        const x = money(a, c)
        const y = money(b, c)
        expect(add(x, y)).toEqual(add(y, x))
        expect(subtract(add(x, y), y)).toEqual(x)
        expect(add(x, y).minor).toBe(a + b)
      }),
      RUNS,
    )
  })

  it('rescale converts exactly and refuses what cannot be expressed', () => {
    expect(rescale(150000n, 2, 0)).toBe(1500n)
    expect(rescale(-150000n, 2, 0)).toBe(-1500n)
    expect(rescale(1500n, 0, 2)).toBe(150000n) // UGX × 100 for Stripe
    expect(rescale(7n, 2, 2)).toBe(7n)
    expect(rescale(0n, 2, 0)).toBe(0n)
    for (const fn of [
      () => rescale(150050n, 2, 0),
      () => rescale(-150050n, 2, 0),
      () => rescale(1n, 2, 0),
      () => rescale(-99n, 2, 0),
      () => rescale(150011n, 3, 2),
    ]) {
      const err = dshErrorOf(fn)
      expect(err.kind).toBe('validation')
      expect(err.code).toBe('inexact_amount')
    }
  })

  it('property: rescale up then down is the identity; down succeeds exactly when divisible', () => {
    const exp = fc.integer({ min: 0, max: 4 })
    fc.assert(
      fc.property(minor, exp, exp, (m, from, to) => {
        const [lo, hi] = from <= to ? [from, to] : [to, from]
        expect(rescale(rescale(m, lo, hi), hi, lo)).toBe(m)
        const factor = 10n ** BigInt(hi - lo)
        if (m % factor === 0n) expect(rescale(m, hi, lo) * factor).toBe(m)
        else expect(dshErrorOf(() => rescale(m, hi, lo)).code).toBe('inexact_amount')
      }),
      RUNS,
    )
  })
})

describe('allocate', () => {
  const kes = (n: bigint) => money(n, 'KES')
  const minors = (ms: Money[]) => ms.map((m) => m.minor)

  it.each([
    [100n, [1, 1, 1], [34n, 33n, 33n]],
    [-100n, [1, 1, 1], [-34n, -33n, -33n]],
    [5n, [1, 1], [3n, 2n]],
    [100n, [0, 1], [0n, 100n]],
    [100n, [1, 0, 1], [50n, 0n, 50n]],
    [0n, [3, 7], [0n, 0n]],
    [1n, [1, 1, 1], [1n, 0n, 0n]],
    [2n, [1, 1, 1], [1n, 1n, 0n]],
    [1000n, [70, 20, 10], [700n, 200n, 100n]],
    [1001n, [70, 20, 10], [701n, 200n, 100n]],
    [10n, [1n, 2n], [3n, 7n]],
  ])('%s by %s → %s', (total, ratios, expected) => {
    const parts = allocate(kes(total), ratios)
    expect(minors(parts)).toEqual(expected)
    for (const p of parts) expect(p.currency).toBe('KES')
  })

  it('refuses empty, negative and all-zero ratios', () => {
    expect(() => allocate(kes(1n), [])).toThrow(RangeError)
    expect(() => allocate(kes(1n), [1, -1])).toThrow(RangeError)
    expect(() => allocate(kes(1n), [0, 0])).toThrow(RangeError)
  })

  const ratios = fc.array(fc.oneof(fc.nat({ max: 10 }), fc.nat(), fc.constant(0)), {
    minLength: 1,
    maxLength: 12,
  })

  it('property: parts sum to the total, keep the currency and are within one unit of the exact share', () => {
    fc.assert(
      fc.property(anyMoney, ratios, (total, rs) => {
        const weights = rs.map(BigInt)
        const W = weights.reduce((a, b) => a + b, 0n)
        fc.pre(W > 0n)
        const parts = allocate(total, rs)
        expect(parts).toHaveLength(rs.length)
        expect(parts.reduce((a, p) => a + p.minor, 0n)).toBe(total.minor)
        parts.forEach((p, i) => {
          const w = weights[i]!
          expect(p.currency).toBe(total.currency)
          // |part − total·w/W| < 1  ⇔  |part·W − total·w| < W
          const diff = p.minor * W - total.minor * w
          expect(diff < 0n ? -diff : diff).toBeLessThan(W)
          if (w === 0n) expect(p.minor).toBe(0n)
          // parts carry the sign of the total
          if (total.minor >= 0n) expect(p.minor >= 0n).toBe(true)
          else expect(p.minor <= 0n).toBe(true)
        })
      }),
      RUNS,
    )
  })

  it('property: a larger (or equal, earlier) ratio never gets a smaller part', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 20n }), ratios, (total, rs) => {
        fc.pre(rs.some((r) => r > 0))
        const parts = minors(allocate(kes(total), rs))
        for (let i = 0; i < rs.length; i++) {
          for (let j = 0; j < rs.length; j++) {
            const bigger = rs[i]! > rs[j]! || (rs[i] === rs[j] && i < j)
            if (bigger) expect(parts[i]! >= parts[j]!).toBe(true)
          }
        }
      }),
      RUNS,
    )
  })

  it('negating the total negates every part', () => {
    fc.assert(
      fc.property(anyMoney, ratios, (total, rs) => {
        fc.pre(rs.some((r) => r > 0))
        const pos = minors(allocate(total, rs))
        const neg = minors(allocate({ ...total, minor: -total.minor }, rs))
        expect(neg).toEqual(pos.map((p) => -p))
      }),
      { numRuns: 500 },
    )
  })
})

describe('applyRate and divRoundHalfUp', () => {
  /**
   * Independent reference: long division with truncation, then look at the remainder. For the
   * magnitude, round up when the remainder is at least half the divisor (half-up); the sign is
   * applied afterwards (half away from zero, as rates.ts documents).
   */
  function referenceRate(amount: bigint, bp: number): bigint {
    const product = amount * BigInt(bp)
    const negative = product < 0n
    const abs = negative ? -product : product
    let q = abs / 10_000n
    const r = abs - q * 10_000n
    if (r * 2n >= 10_000n) q += 1n
    return negative ? -q : q
  }

  it.each([
    [1005n, 150, 15n], // 15.075
    [1000n, 150, 15n], // 15
    [1010n, 150, 15n], // 15.15
    [1030n, 150, 15n], // 15.45
    [1034n, 150, 16n], // 15.51
    [1100n, 150, 17n], // 16.5 → up
    [1000n, 5, 1n], // 0.5 → up
    [100n, 50, 1n], // 0.5 → up
    [300n, 50, 2n], // 1.5 → up
    [500n, 50, 3n], // 2.5 → up (not banker's rounding)
    [99n, 50, 0n], // 0.495
    [1n, 10_000, 1n],
    [12345n, 0, 0n],
    [150050n, 1600, 24008n], // 16% VAT on KES 1,500.50 = 240.08
    [0n, 150, 0n],
  ])('%s at %s bp → %s', (amount, bp, expected) => {
    expect(applyRate(money(amount, 'KES'), bp)).toEqual(money(expected, 'KES'))
  })

  it('rounds halves of negative amounts away from zero (mirror of half-up)', () => {
    expect(applyRate(money(-1100n, 'KES'), 150).minor).toBe(-17n)
    expect(applyRate(money(-1005n, 'KES'), 150).minor).toBe(-15n)
    expect(applyRate(money(-1034n, 'KES'), 150).minor).toBe(-16n)
    expect(applyRate(money(-100n, 'KES'), 50).minor).toBe(-1n)
  })

  it('keeps the currency and refuses non-integer basis points', () => {
    expect(applyRate(money(100n, 'UGX'), 1800).currency).toBe('UGX')
    expect(() => applyRate(money(100n, 'KES'), 1.5)).toThrow(TypeError)
    expect(() => applyRate(money(100n, 'KES'), Number.NaN)).toThrow(TypeError)
  })

  it('property: agrees with the exact bigint reference and lies within half a unit', () => {
    const bp = fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.constantFrom(1, 50, 150, 5_000))
    fc.assert(
      fc.property(anyMoney, bp, (m, rate) => {
        const got = applyRate(m, rate)
        expect(got.currency).toBe(m.currency)
        expect(got.minor).toBe(referenceRate(m.minor, rate))
        if (m.minor >= 0n) {
          // half-up: x − ½ ≤ exact < x + ½  ⇔  20000x − 10000 ≤ 2p < 20000x + 10000
          const twoP = 2n * m.minor * BigInt(rate)
          expect(20_000n * got.minor - 10_000n <= twoP).toBe(true)
          expect(twoP < 20_000n * got.minor + 10_000n).toBe(true)
        }
        expect(applyRate({ ...m, minor: -m.minor }, rate).minor).toBe(-got.minor)
      }),
      RUNS,
    )
  })

  it('property: exact .5 cases always round up', () => {
    // amount·bp = 10000·k + 5000 ⇒ the exact share is k + ½
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 18n }), (k) => {
        const amount = 200n * k + 100n // × 50 bp = 10000k + 5000
        expect(applyRate(money(amount, 'KES'), 50).minor).toBe(k + 1n)
      }),
      RUNS,
    )
  })

  it('divRoundHalfUp divides with halves away from zero and refuses a non-positive divisor', () => {
    expect(divRoundHalfUp(5n, 2n)).toBe(3n)
    expect(divRoundHalfUp(-5n, 2n)).toBe(-3n)
    expect(divRoundHalfUp(4n, 3n)).toBe(1n)
    expect(divRoundHalfUp(5n, 3n)).toBe(2n)
    expect(divRoundHalfUp(0n, 7n)).toBe(0n)
    expect(() => divRoundHalfUp(1n, 0n)).toThrow(RangeError)
    expect(() => divRoundHalfUp(1n, -2n)).toThrow(RangeError)
    fc.assert(
      fc.property(minor, fc.bigInt({ min: 1n, max: 10n ** 12n }), (n, d) => {
        const q = divRoundHalfUp(n, d)
        const abs = n < 0n ? -n : n
        const qa = q < 0n ? -q : q
        // |q| is the nearest integer to |n|/d, halves up: 2d|q| − d ≤ 2|n| < 2d|q| + d
        expect(2n * d * qa - d <= 2n * abs && 2n * abs < 2n * d * qa + d).toBe(true)
        if (q !== 0n) expect(q < 0n).toBe(n < 0n)
      }),
      RUNS,
    )
  })
})

describe('parsePercent and formatPercent', () => {
  it.each([
    ['16', 1600],
    ['1.5', 150],
    ['0.25', 25],
    ['0', 0],
    ['0.01', 1],
    ['100', 10_000],
    ['100.00', 10_000],
    ['16%', 1600],
    [' 7.5 ', 750],
  ])('%j → %s bp', (input, bp) => {
    expect(parsePercent(input, 'tax rate')).toBe(bp)
  })

  it.each([
    ['-1', /not a percentage/],
    ['101', /above 100%/],
    ['100.01', /above 100%/],
    ['16.555', /more than 2 decimals/],
    ['abc', /not a percentage/],
    ['', /not a percentage/],
    ['1e1', /not a percentage/],
    ['.5', /not a percentage/],
    ['1.', /not a percentage/],
    ['1,5', /not a percentage/],
  ])('rejects %j', (input, message) => {
    const err = dshErrorOf(() => parsePercent(input, 'tax rate'))
    expect(err.kind).toBe('validation')
    expect(err.code).toBe('invalid_rate')
    expect(err.message).toMatch(message)
    expect(err.message).toContain('tax rate')
  })

  it('honours a custom maximum', () => {
    expect(parsePercent('150', 'markup', 200)).toBe(15_000)
    expect(dshErrorOf(() => parsePercent('20.5', 'fee', 20)).message).toMatch(/above 20%/)
  })

  it.each([
    [150, '1.5'],
    [1600, '16'],
    [5, '0.05'],
    [25, '0.25'],
    [0, '0'],
    [10_000, '100'],
  ])('formatPercent(%s) → %s', (bp, text) => {
    expect(formatPercent(bp)).toBe(text)
  })

  it('property: formatPercent → parsePercent is the identity on 0..10000 bp', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), (bp) => {
        expect(parsePercent(formatPercent(bp), 'rate')).toBe(bp)
      }),
      RUNS,
    )
  })
})

describe('edge cases fixed after review', () => {
  it('formats negative basis points and rejects fractions', async () => {
    const { formatPercent } = await import('../../src/core/money/rates.js')
    expect(formatPercent(-150)).toBe('-1.5')
    expect(formatPercent(-5)).toBe('-0.05')
    expect(() => formatPercent(150.5)).toThrow()
  })
  it('parsePercent honours maxima above 100 and says "above" for too-large values', async () => {
    const { parsePercent } = await import('../../src/core/money/rates.js')
    expect(parsePercent('1000', 'x', 1000)).toBe(100_000)
    expect(() => parsePercent('1000', 'x')).toThrow(/above 100%/)
  })
  it('rejects grouped amounts with a leading zero', async () => {
    const { parseAmount } = await import('../../src/core/money/parse.js')
    expect(() => parseAmount('0,500', 'KES')).toThrow(/not an amount/)
    expect(() => parseAmount('01,500', 'KES')).toThrow(/not an amount/)
    expect(parseAmount('0500', 'KES').minor).toBe(50_000n)
  })
})
