import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { fastReaderRuns, openCsv, type ReadOptions } from '../../src/statements/read.js'

// The fast CSV reader must give, record for record, what csv-parse gives (cells, line, raw text),
// and on a file it does not read itself, csv-parse's own error: read every file both ways.

const FIX = fileURLToPath(new URL('../../fixtures/statements/', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'dsh-read-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function readAll(path: string, options: ReadOptions) {
  try {
    const csv = await openCsv(path, options)
    const out: unknown[] = [csv.preamble]
    for await (const batch of csv.records) out.push(...batch)
    return out
  } catch (e) {
    const err = e as Error & { line?: number; column?: number }
    return { error: err.constructor.name, message: err.message, line: err.line, column: err.column }
  }
}

/**
 * Reads `path` both ways; `route` says which way the fast read went (fastReaderRuns moved): read
 * whole by the fast reader, or handed to csv-parse (twice for an unclosed quote: where it opened is
 * found by a second read). A fast reader that always handed over would
 * agree with csv-parse everywhere: the routes are what catch it.
 */
async function both(path: string, options: Omit<ReadOptions, 'reader'>) {
  const before = { ...fastReaderRuns }
  const fast = await readAll(path, { ...options, reader: 'auto' })
  const moved = {
    whole: fastReaderRuns.whole - before.whole,
    handedOver: fastReaderRuns.handedOver - before.handedOver,
  }
  const route =
    moved.whole === 1 && moved.handedOver === 0
      ? 'fast'
      : moved.whole === 0 && moved.handedOver >= 1
        ? 'csv-parse'
        : JSON.stringify(moved)
  const slow = await readAll(path, { ...options, reader: 'csv-parse' })
  return { fast, slow, route }
}

let n = 0
const file = (bytes: Buffer | string) => {
  const p = join(dir, `f${n++}.csv`)
  writeFileSync(p, bytes)
  return p
}

describe('the fast CSV reader reads as csv-parse does', () => {
  it('every statement fixture, with and without raw text', async () => {
    const files = readdirSync(FIX).filter((f) => f.endsWith('.csv'))
    expect(files.length).toBeGreaterThanOrEqual(9)
    for (const f of files) {
      const bytes = readFileSync(join(FIX, f))
      for (const separator of [',', ';'])
        for (const encoding of ['utf-8', 'latin1'] as const)
          for (const raw of [false, true]) {
            const { fast, slow, route } = await both(join(FIX, f), { separator, encoding, raw })
            expect(fast, `${f} ${separator} ${encoding} raw=${raw}`).toEqual(slow)
            // Read with its own separator and encoding, every fixture is plain: the fast reader
            // reads it whole.
            const own =
              separator === (f === 'de-semicolon.csv' ? ';' : ',') &&
              (encoding === 'latin1' || f !== 'latin1.csv')
            if (own) expect(route, `${f} ${separator} ${encoding} raw=${raw}`).toBe('fast')
          }
      // The same file cut at every few bytes' end (unfinished records, unclosed quotes).
      for (let cut = 1; cut < bytes.length; cut += 37) {
        const p = file(bytes.subarray(0, cut))
        const { fast, slow } = await both(p, { separator: ',', encoding: 'utf-8', raw: true })
        expect(fast, `${f} cut at ${cut}`).toEqual(slow)
      }
    }
  })

  it('files it must hand over to csv-parse: the same records or the same error', async () => {
    const cases: [string, 'fast' | 'csv-parse'][] = [
      ['a,b\r\nc,d\ne,f\r\n', 'csv-parse'], // LF alone after CRLF
      ['a,b\nc,d\r\n', 'csv-parse'], // CRLF after LF
      ['a,b\rc,d\r', 'csv-parse'], // CR endings
      ['a,"b"c\n', 'csv-parse'], // text after a closing quote
      ['a,b"c\n', 'csv-parse'], // a quote inside a cell
      ['a,"b\nc,d\n', 'csv-parse'], // unclosed quote
      ['a,"b""c",d\n"x\r\ny",z', 'fast'], // escaped quote, quoted CRLF, no final line break
      ['\n\n,\n"",""\n', 'fast'], // empty lines and cells
      [`${'ok,1\n'.repeat(5000)}bad,"x"y\n`, 'csv-parse'], // the fault far from the start (after fast batches)
      [`${'caf\u00e9,1\n'.repeat(3000)}x,2\r\n`, 'csv-parse'], // multi-byte characters across chunks, then a fault
    ]
    for (const [c, way] of cases) {
      const { fast, slow, route } = await both(file(c), {
        separator: ',',
        encoding: 'utf-8',
        raw: true,
      })
      expect(fast, JSON.stringify(c.slice(0, 40))).toEqual(slow)
      expect(route, JSON.stringify(c.slice(0, 40))).toBe(way)
    }
    // Bytes that are not UTF-8.
    const { fast, slow, route } = await both(
      file(Buffer.from([0x61, 0x2c, 0xe9, 0x0a, 0x62, 0x0a])),
      { separator: ',', encoding: 'utf-8' },
    )
    expect(fast).toEqual(slow)
    expect(route).toBe('csv-parse')
  })

  it('any text made of separators, quotes, line breaks and letters (property)', async () => {
    const piece = fc.constantFrom(',', ';', '"', '""', '\r\n', '\n', '\r', 'a', 'bc', 'é', ' ', '€')
    const routes = { fast: 0, 'csv-parse': 0 } as Record<string, number>
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { maxLength: 60 }),
        fc.constantFrom(',', ';'),
        fc.boolean(),
        async (parts, separator, raw) => {
          const { fast, slow, route } = await both(file(parts.join('')), {
            separator,
            encoding: 'utf-8',
            raw,
          })
          expect(fast).toEqual(slow)
          routes[route] = (routes[route] ?? 0) + 1
        },
      ),
      { numRuns: 400 },
    )
    // Both ways were taken, and every read took exactly one of them.
    expect(Object.keys(routes).sort()).toEqual(['csv-parse', 'fast'])
    expect(routes['fast']).toBeGreaterThan(40)
    expect(routes['csv-parse']).toBeGreaterThan(40)
  })

  it('large well-formed files read across chunk boundaries, with or without one fault (property)', async () => {
    const plain = fc.stringMatching(/^[a-z0-9 é€.]{0,12}$/)
    const quoted = fc
      .array(fc.constantFrom('a', ',', ';', '""', '\r\n', '\n', 'é', ' '), { maxLength: 8 })
      .map((xs) => `"${xs.join('')}"`)
    const row = fc.array(fc.oneof(plain, quoted), { minLength: 1, maxLength: 6 })
    await fc.assert(
      fc.asyncProperty(
        fc.array(row, { minLength: 1, maxLength: 40 }),
        fc.constantFrom('\r\n', '\n'),
        fc.boolean(),
        fc.option(fc.tuple(fc.nat(), fc.constantFrom('\r', '"', 'x"', '\n', '\r\n'))),
        async (rows, eol, finalEol, fault) => {
          // Repeated to ~140 KB, so records and quoted cells straddle the 64 KiB chunks.
          const one = rows.map((r) => r.join(',')).join(eol)
          let text = `${Array.from({ length: Math.ceil(140_000 / (one.length + 2)) }, () => one).join(eol)}${finalEol ? eol : ''}`
          if (fault) {
            const at = fault[0] % text.length
            text = text.slice(0, at) + fault[1] + text.slice(at)
          }
          for (const raw of [false, true]) {
            const { fast, slow, route } = await both(file(text), {
              separator: ',',
              encoding: 'utf-8',
              raw,
            })
            expect(fast).toEqual(slow)
            // Well-formed, it is read by the fast reader from start to end.
            if (!fault) expect(route).toBe('fast')
          }
        },
      ),
      // One run is always fault-free: the fast reader must read it whole.
      {
        numRuns: 10,
        examples: [
          [
            [
              ['a', '"b,\nc"'],
              ['d', 'é'],
            ],
            '\r\n',
            true,
            null,
          ],
        ],
      },
    )
    // About 8 s on a quiet machine (20 files of 140 KB, each read both ways, twice).
  }, 90_000)
})
