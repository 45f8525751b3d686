/*
 * Refuses a profile's regular expression when V8's backtracking engine can take exponential (or
 * polynomial) time on a crafted line: a repeat inside a repeat (`(a+)+$`, `(\s*x)*`), two
 * alternatives of a repeat that can begin with the same character (`(a|a)+$`, `(\w|\d)+`), and two
 * repeats next to each other that can match the same characters (`\d+\d*`). It reads the pattern
 * itself (no engine, no I/O) and is conservative: a pattern it cannot be sure of is refused with
 * the reason, and a profile's patterns are short enough to rewrite (`(a+)+` is `a+`).
 */

/** Characters as 128 ASCII bits plus "some character above ASCII". */
class CharSet {
  constructor(
    readonly bits = new Uint32Array(4),
    public other = false,
  ) {}
  static of(...codes: number[]): CharSet {
    const s = new CharSet()
    for (const c of codes) s.add(c)
    return s
  }
  static range(from: number, to: number): CharSet {
    const s = new CharSet()
    s.addRange(from, to)
    return s
  }
  add(c: number): void {
    if (c < 128) (this.bits[c >> 5] as number) |= 1 << (c & 31)
    else this.other = true
  }
  addRange(from: number, to: number): void {
    for (let c = from; c <= Math.min(to, 127); c++) this.add(c)
    if (to >= 128) this.other = true
  }
  union(o: CharSet): CharSet {
    const s = new CharSet(Uint32Array.from(this.bits), this.other || o.other)
    for (let i = 0; i < 4; i++) (s.bits[i] as number) |= o.bits[i] as number
    return s
  }
  complement(): CharSet {
    const s = new CharSet(
      Uint32Array.from(this.bits, (b) => ~b >>> 0),
      true,
    )
    return s
  }
  overlaps(o: CharSet): boolean {
    if (this.other && o.other) return true
    for (let i = 0; i < 4; i++)
      if (((this.bits[i] as number) & (o.bits[i] as number)) !== 0) return true
    return false
  }
  /** With the `i` flag: each ASCII letter and its other case. */
  caseless(): CharSet {
    const s = new CharSet(Uint32Array.from(this.bits), this.other)
    for (let c = 65; c <= 90; c++) {
      const has = (x: number) => (((this.bits[x >> 5] as number) >>> (x & 31)) & 1) === 1
      if (has(c) || has(c + 32)) {
        s.add(c)
        s.add(c + 32)
      }
    }
    return s
  }
}

const DIGIT = CharSet.range(48, 57)
const WORD = DIGIT.union(CharSet.range(65, 90)).union(CharSet.range(97, 122)).union(CharSet.of(95))
const SPACE = (() => {
  const s = CharSet.of(9, 10, 11, 12, 13, 32)
  s.other = true
  return s
})()
const ANY = CharSet.range(0, 0x10ffff)
const DOT = ANY.complement()
  .union(CharSet.range(0, 9))
  .union(CharSet.range(11, 12))
  .union(CharSet.range(14, 127))

type Node =
  | { t: 'chars'; set: CharSet }
  | { t: 'seq'; items: Node[] }
  | { t: 'alt'; alts: Node[] }
  | { t: 'rep'; body: Node; min: number; max: number }
  /** Zero-width: anchors, \b, lookarounds (their bodies are checked on their own). */
  | { t: 'none' }

export class UnsafeRegex extends Error {}

/** Parses `source` (JavaScript syntax, as `new RegExp` accepted it) into a small tree. */
function parse(source: string, caseless: boolean): Node {
  let i = 0
  const lookBodies: Node[] = []
  const chars = (set: CharSet): Node => ({ t: 'chars', set: caseless ? set.caseless() : set })

  function alternation(): Node {
    const alts: Node[] = [sequence()]
    while (source[i] === '|') {
      i++
      alts.push(sequence())
    }
    return alts.length === 1 ? (alts[0] as Node) : { t: 'alt', alts }
  }

  function sequence(): Node {
    const items: Node[] = []
    while (i < source.length && source[i] !== '|' && source[i] !== ')') {
      const item = quantified()
      // A group without a quantifier is its items in line (so `(\d+)(\d+)` reads as \d+\d+).
      if (item.t === 'seq') items.push(...item.items)
      else items.push(item)
    }
    return { t: 'seq', items }
  }

  function quantified(): Node {
    const atom = single()
    const q = /^(?:([*+?])|\{(\d+)(,(\d*))?\})\??/.exec(source.slice(i, i + 24))
    if (!q || atom.t === 'none') return atom
    i += q[0].length
    const [min, max] =
      q[1] === '*'
        ? [0, Infinity]
        : q[1] === '+'
          ? [1, Infinity]
          : q[1] === '?'
            ? [0, 1]
            : [Number(q[2]), q[3] === undefined ? Number(q[2]) : q[4] ? Number(q[4]) : Infinity]
    return { t: 'rep', body: atom, min, max }
  }

  function single(): Node {
    const c = source[i++] as string
    if (c === '^' || c === '$') return { t: 'none' }
    if (c === '.') return chars(DOT)
    if (c === '[') return chars(charClass())
    if (c === '\\') return escaped(false)
    if (c === '(') {
      let look = false
      if (source.startsWith('?:', i)) i += 2
      else if (/^\?<?[=!]/.test(source.slice(i, i + 3))) {
        look = true
        i += source[i + 1] === '<' ? 3 : 2
      } else if (source.startsWith('?<', i)) i = source.indexOf('>', i) + 1
      const body = alternation()
      if (source[i] !== ')') throw new UnsafeRegex('an unclosed group')
      i++
      if (look) {
        lookBodies.push(body)
        return { t: 'none' }
      }
      return body
    }
    return chars(CharSet.of(c.codePointAt(0) as number))
  }

  /** After a backslash; `inClass`: inside [...] (where \b is a backspace). */
  function escaped(inClass: boolean): Node {
    const c = source[i++] as string
    const set = (s: CharSet): Node => chars(s)
    switch (c) {
      case 'd':
        return set(DIGIT)
      case 'D':
        return set(DIGIT.complement())
      case 'w':
        return set(WORD)
      case 'W':
        return set(WORD.complement())
      case 's':
        return set(SPACE)
      case 'S':
        return set(SPACE.complement())
      case 'b':
      case 'B':
        return inClass ? set(CharSet.of(8)) : { t: 'none' }
      case 'n':
        return set(CharSet.of(10))
      case 'r':
        return set(CharSet.of(13))
      case 't':
        return set(CharSet.of(9))
      case 'f':
        return set(CharSet.of(12))
      case 'v':
        return set(CharSet.of(11))
      case '0':
        return set(CharSet.of(0))
      case 'x': {
        const hex = source.slice(i, i + 2)
        i += 2
        return set(CharSet.of(Number.parseInt(hex, 16)))
      }
      case 'u': {
        const m = /^\{([0-9a-fA-F]+)\}|^([0-9a-fA-F]{4})/.exec(source.slice(i))
        if (!m) return set(CharSet.of(117))
        i += m[0].length
        return set(CharSet.of(Number.parseInt(m[1] ?? m[2] ?? '0', 16)))
      }
      case 'c':
        i++
        return set(CharSet.range(0, 31))
      case 'p':
      case 'P':
        if (source[i] === '{') i = source.indexOf('}', i) + 1
        return set(ANY)
      case 'k':
        if (source[i] === '<') i = source.indexOf('>', i) + 1
        // A back-reference matches what its group did: any text, of any length.
        return { t: 'rep', body: chars(ANY), min: 0, max: Infinity }
      default:
        if (/[1-9]/.test(c)) {
          while (/[0-9]/.test(source[i] ?? '')) i++
          return { t: 'rep', body: chars(ANY), min: 0, max: Infinity }
        }
        return set(CharSet.of(c.codePointAt(0) as number))
    }
  }

  function classAtom(): { set: CharSet; code?: number } {
    const c = source[i++] as string
    if (c !== '\\')
      return { set: CharSet.of(c.codePointAt(0) as number), code: c.codePointAt(0) as number }
    const n = escaped(true)
    if (n.t !== 'chars') return { set: ANY }
    return { set: n.set }
  }

  function charClass(): CharSet {
    let negate = false
    if (source[i] === '^') {
      negate = true
      i++
    }
    let set = new CharSet()
    while (i < source.length && source[i] !== ']') {
      const a = classAtom()
      if (
        source[i] === '-' &&
        source[i + 1] !== ']' &&
        i + 1 < source.length &&
        a.code !== undefined
      ) {
        i++
        const b = classAtom()
        set = set.union(b.code === undefined ? ANY : CharSet.range(a.code, b.code))
      } else set = set.union(a.set)
    }
    i++
    return negate ? set.complement() : set
  }

  const root = alternation()
  if (i < source.length) throw new UnsafeRegex('an unmatched )')
  return lookBodies.length === 0
    ? root
    : {
        t: 'seq',
        items: [root, ...lookBodies.map((b) => ({ t: 'rep' as const, body: b, min: 0, max: 1 }))],
      }
}

const nullable = (n: Node): boolean =>
  n.t === 'none' ||
  (n.t === 'seq' && n.items.every(nullable)) ||
  (n.t === 'alt' && n.alts.some(nullable)) ||
  (n.t === 'rep' && (n.min === 0 || nullable(n.body)))

/** The characters `n` can begin with. */
function first(n: Node): CharSet {
  switch (n.t) {
    case 'chars':
      return n.set
    case 'none':
      return new CharSet()
    case 'rep':
      return first(n.body)
    case 'alt':
      return n.alts.reduce((s, a) => s.union(first(a)), new CharSet())
    case 'seq': {
      let s = new CharSet()
      for (const item of n.items) {
        s = s.union(first(item))
        if (!nullable(item)) break
      }
      return s
    }
  }
}

/** Every character `n` can match anywhere. */
function all(n: Node): CharSet {
  switch (n.t) {
    case 'chars':
      return n.set
    case 'none':
      return new CharSet()
    case 'rep':
      return all(n.body)
    case 'alt':
      return n.alts.reduce((s, a) => s.union(all(a)), new CharSet())
    case 'seq':
      return n.items.reduce((s, a) => s.union(all(a)), new CharSet())
  }
}

/** A repeat that can take a varying number of turns (`*`, `+`, `{1,5}`; not `?` or `{3}`). */
const loops = (n: Node) => n.t === 'rep' && n.max > 1 && n.max > n.min

const hasLoop = (n: Node): boolean =>
  loops(n) ||
  (n.t === 'rep' && hasLoop(n.body)) ||
  (n.t === 'seq' && n.items.some(hasLoop)) ||
  (n.t === 'alt' && n.alts.some(hasLoop))

function check(n: Node, inLoop: boolean): void {
  switch (n.t) {
    case 'rep': {
      const loop = loops(n) || (n.max > 1 && inLoop)
      if (loops(n) && hasLoop(n.body))
        throw new UnsafeRegex('a repeat inside a repeat (nested quantifiers, like (a+)+)')
      check(n.body, loop || inLoop)
      return
    }
    case 'alt':
      if (inLoop)
        for (let a = 0; a < n.alts.length; a++)
          for (let b = a + 1; b < n.alts.length; b++)
            if (first(n.alts[a] as Node).overlaps(first(n.alts[b] as Node)))
              throw new UnsafeRegex(
                'two alternatives of a repeat can match the same text (overlapping, like (a|a)+)',
              )
      for (const a of n.alts) check(a, inLoop)
      return
    case 'seq':
      for (let a = 0; a < n.items.length; a++) {
        const left = n.items[a] as Node
        if (!loops(left) || (left.t === 'rep' && left.max !== Infinity)) continue
        const chars = all(left)
        // The next repeat reachable past only optional items, matching what this one can.
        for (let b = a + 1; b < n.items.length; b++) {
          const right = n.items[b] as Node
          if (hasLoop(right) && first(right).overlaps(chars))
            throw new UnsafeRegex(
              'two repeats in a row can match the same text (overlapping quantifiers, like \\d+\\d+)',
            )
          if (!nullable(right)) break
        }
      }
      for (const item of n.items) check(item, inLoop)
      return
    default:
      return
  }
}

/**
 * Throws UnsafeRegex (its message says which construct) when `re` can backtrack catastrophically.
 *
 * @example assertLinearRegex(/(SETTLEMENT-[0-9A-Z]{10})/) // fine
 * @example assertLinearRegex(/(a+)+$/) // throws: a repeat inside a repeat
 */
export function assertLinearRegex(re: RegExp): void {
  check(parse(re.source, re.flags.includes('i')), false)
}
