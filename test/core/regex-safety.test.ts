import { describe, expect, it } from 'vitest'
import { BANK_PROFILE, MPESA_PROFILE } from '../../src/core/statements/profile.js'
import { assertLinearRegex } from '../../src/core/statements/regex-safety.js'

/** Issue 23, item 7: profile regexes that can backtrack catastrophically are refused. */
describe('assertLinearRegex', () => {
  it.each([
    ['(a+)+$', 'a repeat inside a repeat'],
    ['(a|a)+$', 'two alternatives of a repeat'],
    ['(a|ab)+c', 'two alternatives of a repeat'],
    ['(\\w|\\d)+x', 'two alternatives of a repeat'],
    ['(?:x|[a-z])*y', 'two alternatives of a repeat'],
    ['(.*)*x', 'a repeat inside a repeat'],
    ['([a-z]+)*$', 'a repeat inside a repeat'],
    ['(\\s*-)+$', 'a repeat inside a repeat'],
    ['(a{1,5}){2,}', 'a repeat inside a repeat'],
    ['\\d+\\d+$', 'two repeats in a row'],
    ['(\\d+)(\\d*)x', 'two repeats in a row'],
    ['\\w+\\s*\\w+;', 'two repeats in a row'],
    ['.*.*=', 'two repeats in a row'],
    ['(?<ref>\\d+)\\k<ref>+', 'two repeats in a row'],
  ])('%s is refused (%s)', (source, reason) => {
    expect(() => assertLinearRegex(new RegExp(source))).toThrow(reason)
  })

  it.each([
    '(SETTLEMENT-[0-9A-Z]{10})',
    'REF:(\\w+)',
    '^\\s*"?(total|closing balance|opening balance)',
    'From\\s+(\\d{2}-\\d{2}-\\d{4})\\s+To\\s+(\\d{2}-\\d{2}-\\d{4})',
    '(?:INV|REF)-(\\d+)',
    '[A-Z]{2}\\d{6}',
    '(\\d{3}-)+\\d{2}',
    '^(?!Total)[^,]+,',
    '\\bORDER[ #:]*([A-Z0-9]+)\\b',
    'a+b+c+',
    '[^\\]]+\\]',
  ])('%s is accepted', (source) => {
    expect(() => assertLinearRegex(new RegExp(source, 'i'))).not.toThrow()
  })

  it('the built-in profiles pass', () => {
    for (const p of [MPESA_PROFILE, BANK_PROFILE])
      for (const re of [...p.skipPatterns, p.referencePattern, p.periodPattern])
        if (re) expect(() => assertLinearRegex(re)).not.toThrow()
  })
})
