import { describe, expect, it } from 'vitest'
import { parseRules } from '../../src/core/payments/routing.js'
import { compactIban, ibanChecks, looksLikeIban } from '../../src/core/settlement/iban.js'
import { swiftField, toSwiftText } from '../../src/core/settlement/swift-text.js'
import { isoWithOffset } from '../../src/core/time.js'
import { controlCharIn, parseName } from '../../src/core/validate.js'

describe('SWIFT Latin text for pain.001 (issue 22)', () => {
  it.each([
    ['Café & Ñgong <Ltd>', 'Cafe . Ngong .Ltd.'],
    ['Straße Ærø Œuvre Łódź', 'Strasse AEro OEuvre Lodz'],
    ['Cafe\u0301 (decomposed)', 'Cafe (decomposed)'],
    ['ﬁne Ａ½', 'fine A1.2'],
    ['Mama’s – “Grill” 👍', "Mama's - .Grill. ."],
    ["a/b-c?d:e(f)g.h,i'j+k l", "a/b-c?d:e(f)g.h,i'j+k l"],
    ['tab\there;semi_under@at#hash', 'tab.here.semi.under.at.hash'],
    ['Ναιρόμπι 株式', '........ ..'],
  ])('%j → %j', (input, want) => {
    expect(toSwiftText(input)).toBe(want)
  })

  it('cuts after transliterating (ASCII: no character split), never empty', () => {
    expect(swiftField('É'.repeat(200), 140)).toBe('E'.repeat(140))
    expect(swiftField('Ærø', 2)).toBe('AE')
    expect(swiftField('ab   cd', 4)).toBe('ab')
    expect(swiftField('   ', 10)).toBe('.')
  })
})

describe('IBAN (ISO 13616)', () => {
  it.each([
    'GB82WEST12345698765432',
    'gb82 west 1234 5698 7654 32',
    'DE89370400440532013000',
    'NL91ABNA0417164300',
    'FR1420041010050500013M02606',
    'MU17BOMM0101101030300200000MUR',
  ])('%s passes', (iban) => {
    expect(looksLikeIban(iban)).toBe(true)
    expect(ibanChecks(iban)).toBe(true)
  })
  it.each(['GB82WEST12345698765433', 'DE88370400440532013000', 'NL91ABNA0417164301'])(
    '%s fails its check digits',
    (iban) => {
      expect(looksLikeIban(iban)).toBe(true)
      expect(ibanChecks(iban)).toBe(false)
    },
  )
  it.each(['0011223344', 'UG-778899', 'AB12345', 'A112345678901234', `GB82${'1'.repeat(31)}`])(
    '%s does not look like an IBAN',
    (n) => expect(looksLikeIban(n)).toBe(false),
  )
  it('the electronic form', () => expect(compactIban('gb82 west 1234')).toBe('GB82WEST1234'))
})

describe('isoWithOffset', () => {
  const t = new Date('2026-12-08T00:56:26.789Z')
  it.each([
    ['Africa/Nairobi', '2026-12-08T03:56:26+03:00'],
    ['UTC', '2026-12-08T00:56:26+00:00'],
    ['America/Sao_Paulo', '2026-12-07T21:56:26-03:00'],
    ['Asia/Kolkata', '2026-12-08T06:26:26+05:30'],
    ['Europe/London', '2026-12-08T00:56:26+00:00'],
  ])('%s', (zone, want) => expect(isoWithOffset(zone, t)).toBe(want))
  it('the offset of the instant (summer time)', () =>
    expect(isoWithOffset('Europe/Berlin', new Date('2026-07-01T10:00:00Z'))).toBe(
      '2026-07-01T12:00:00+02:00',
    ))
})

describe('control characters in names', () => {
  it.each([
    ['A\x01', 'U+0001 at character 2'],
    ['\x1b[31m', 'U+001B at character 1'],
    ['Ñ\x0b', 'U+000B at character 2'],
    ['x\u0085', 'U+0085 at character 2'],
    ['x\u202ey', 'U+202E at character 2'],
    ['👍\x7f', 'U+007F at character 2'],
  ])('%j: %s', (v, at) => expect(controlCharIn(v)).toBe(at))
  it('plain names pass, the field is named', () => {
    expect(controlCharIn('Café & Ñgong <Ltd> 👍')).toBeUndefined()
    expect(() => parseName('W\x01', 'account name', 'accountName')).toThrow(
      'accountName contains a control character (U+0001 at character 2)',
    )
    expect(parseName('  Westlands  ', 'branch name')).toBe('Westlands')
  })
})

describe('routing rule names (printed by route explain)', () => {
  it('refuse a control character', () => {
    expect(() =>
      parseRules({ rules: [{ name: 'cards\x1b[2J', when: {}, gateways: ['stripe'] }] }),
    ).toThrow(/name contains a control character \(U\+001B at character 6\)/)
    expect(
      parseRules({ rules: [{ name: 'Café cards', when: {}, gateways: ['stripe'] }] }).rules[0]
        ?.name,
    ).toBe('Café cards')
  })
})
