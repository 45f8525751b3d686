import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { openCsv, type ReadOptions } from '../../src/statements/read.js'

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

async function both(path: string, options: Omit<ReadOptions, 'reader'>) {
  const fast = await readAll(path, { ...options, reader: 'auto' })
  const slow = await readAll(path, { ...options, reader: 'csv-parse' })
  return { fast, slow }
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
            const { fast, slow } = await both(join(FIX, f), { separator, encoding, raw })
            expect(fast, `${f} ${separator} ${encoding} raw=${raw}`).toEqual(slow)
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
    const cases = [
      'a,b\r\nc,d\ne,f\r\n', // LF alone after CRLF
      'a,b\nc,d\r\n', // CRLF after LF
      'a,b\rc,d\r', // CR endings
      'a,"b"c\n', // text after a closing quote
      'a,b"c\n', // a quote inside a cell
      'a,"b\nc,d\n', // unclosed quote
      'a,"b""c",d\n"x\r\ny",z', // escaped quote, quoted CRLF, no final line break
      '\n\n,\n"",""\n', // empty lines and cells
      'ok,1\n'.repeat(5000) + 'bad,"x"y\n', // the fault far from the start (after fast batches)
      'caf\u00e9,1\n'.repeat(3000) + 'x,2\r\n', // multi-byte characters across chunks, then a fault
    ]
    for (const c of cases) {
      const { fast, slow } = await both(file(c), { separator: ',', encoding: 'utf-8', raw: true })
      expect(fast, JSON.stringify(c.slice(0, 40))).toEqual(slow)
    }
    // Bytes that are not UTF-8.
    const { fast, slow } = await both(file(Buffer.from([0x61, 0x2c, 0xe9, 0x0a, 0x62, 0x0a])), {
      separator: ',',
      encoding: 'utf-8',
    })
    expect(fast).toEqual(slow)
  })

  it('any text made of separators, quotes, line breaks and letters (property)', async () => {
    const piece = fc.constantFrom(',', ';', '"', '""', '\r\n', '\n', '\r', 'a', 'bc', 'é', ' ', '€')
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { maxLength: 60 }),
        fc.constantFrom(',', ';'),
        fc.boolean(),
        async (parts, separator, raw) => {
          const { fast, slow } = await both(file(parts.join('')), {
            separator,
            encoding: 'utf-8',
            raw,
          })
          expect(fast).toEqual(slow)
        },
      ),
      { numRuns: 400 },
    )
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
            const { fast, slow } = await both(file(text), {
              separator: ',',
              encoding: 'utf-8',
              raw,
            })
            expect(fast).toEqual(slow)
          }
        },
      ),
      { numRuns: 10 },
    )
  })
})
