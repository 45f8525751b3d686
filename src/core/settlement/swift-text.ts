/**
 * Text for a bank file in the SWIFT Latin character set ("x" set): letters a–z and A–Z, digits,
 * space and `/ - ? : ( ) . , ' +`. Many banks refuse anything else in a pain.001. Accented
 * letters lose their accents (`Café` → `Cafe`), a few letters that are not accented forms get
 * their usual spelling (`ß` → `ss`), and every other character becomes `.`.
 */

const OUTSIDE = /[^A-Za-z0-9/\-?:().,'+ ]/gu

/** Letters that Unicode does not decompose into a base letter and a mark. */
const SPELLED: Readonly<Record<string, string>> = {
  ß: 'ss',
  ẞ: 'SS',
  Æ: 'AE',
  æ: 'ae',
  Ø: 'O',
  ø: 'o',
  Œ: 'OE',
  œ: 'oe',
  Þ: 'TH',
  þ: 'th',
  Ð: 'D',
  ð: 'd',
  Đ: 'D',
  đ: 'd',
  Ł: 'L',
  ł: 'l',
  Ħ: 'H',
  ħ: 'h',
  ı: 'i',
  Ŋ: 'N',
  ŋ: 'n',
  '\u2018': "'",
  '\u2019': "'",
  '\u2013': '-',
  '\u2014': '-',
}

/** `text` in the SWIFT Latin set, one output character or spelling per input character. */
export function toSwiftText(text: string): string {
  // NFKD splits an accented letter into its base and combining marks (the marks go) and
  // compatibility forms into their plain ones (`ﬁ` → `fi`, a full-width `Ａ` → `A`).
  const bare = text.normalize('NFKD').replace(/\p{M}/gu, '')
  let out = ''
  for (const ch of bare) out += SPELLED[ch] ?? ch.replace(OUTSIDE, '.')
  return out
}

/**
 * A text field of at most `max` characters (Max35Text, Max140Text): transliterated first, then
 * cut (the result is ASCII, so a cut never splits a character), never empty.
 */
export function swiftField(text: string, max: number): string {
  const cut = toSwiftText(text).slice(0, max).trimEnd()
  return cut.length > 0 ? cut : '.'
}
