import { execFileSync } from 'node:child_process'
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { ByteGuardError, byteGuard, locate } from '../../src/statements/byte-guard.js'
import { dsh } from '../helpers/cli.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { run, setUpBranches } from '../helpers/recon-env.js'
import { tempHome as tempDir } from '../helpers/temp-home.js'

/** Issue 23, item 7: statement import is bounded in time and memory, and reads only text files. */
const FIX = fileURLToPath(new URL('../../fixtures/statements/', import.meta.url))
const PROFILE = `${FIX}crlf.json`
const HEAD = 'Date,Reference,Narrative,Amount,Balance'
const ROW = '03/11/2026 09:15:22,R1,Lunch,12.00,'

const importArgs = (file: string, ...more: string[]) => [
  'reconcile',
  'import',
  file,
  '--branch',
  'nairobi',
  '--profile',
  PROFILE,
  ...more,
]

describe.each(DIALECTS)('statement import bounds ($name)', ({ name, enabled }) => {
  const s = useStoreEnv(name)
  let home = ''
  let env: Record<string, string> = {}
  beforeAll(async () => {
    if (!enabled) return
    home = s.home
    env = s.env
    await setUpBranches(env, ['nairobi'])
  })
  /** What touches no store runs once (on SQLite); what reads rows runs on both dialects. */
  const once = it.runIf(enabled && name === 'sqlite')
  const both = it.runIf(enabled)

  const statementCount = async () =>
    (await run(env, ['audit', 'list', '--action', 'statement.import', '--json'])).json<unknown[]>()
      .length

  describe('line length: maxLineBytes', () => {
    once(
      'a 100 MB single-line file is refused in under 5 s with file:line (a real dsh process)',
      async () => {
        const path = join(home, 'one-line.csv')
        const fd = openSync(path, 'w')
        const block = Buffer.alloc(1024 * 1024, 'x')
        for (let i = 0; i < 100; i++) writeSync(fd, block)
        closeSync(fd)
        try {
          const started = Date.now()
          const r = await dsh(importArgs(path), { env, timeoutMs: 30_000 })
          const seconds = (Date.now() - started) / 1000
          expect(r.code, r.stderr).toBe(3)
          expect(r.stderr).toContain(
            `${path}:1:1: the line is longer than 65536 bytes (the profile's maxLineBytes)`,
          )
          expect(seconds).toBeLessThan(5)
        } finally {
          writeFileSync(path, '')
        }
      },
      40_000,
    )

    once('a long line further down names its line; the profile can raise the limit', async () => {
      const path = join(home, 'long-third.csv')
      writeFileSync(path, `${HEAD}\n${ROW}\n03/11/2026 09:16:22,R2,${'y'.repeat(70_000)},1.00,\n`)
      const r = await run(env, importArgs(path), 3)
      expect(r.stderr).toContain(`${path}:3:1: the line is longer than 65536 bytes`)
      const wide = join(home, 'wide.json')
      writeFileSync(
        wide,
        JSON.stringify({ ...JSON.parse(readFileSync(PROFILE, 'utf8')), maxLineBytes: 131072 }),
      )
      const ok = await run(env, [
        'reconcile',
        'import',
        path,
        '--branch',
        'nairobi',
        '--profile',
        wide,
        '--json',
      ])
      expect(ok.json()).toMatchObject({ lines: 2, imported: 2 })
      writeFileSync(
        wide,
        JSON.stringify({ ...JSON.parse(readFileSync(PROFILE, 'utf8')), maxLineBytes: 0 }),
      )
      const bad = await run(
        env,
        ['reconcile', 'import', path, '--branch', 'nairobi', '--profile', wide],
        3,
      )
      expect(bad.stderr).toContain('"maxLineBytes" is a whole number from 1 to 16777216')
    })

    once(
      'a quote that never closes over many short lines is refused at the record, file or stdin',
      async () => {
        const body = `${HEAD}\n03/11/2026 09:15:22,R1,"Lunch\n${'a cell that goes on\n'.repeat(100_000)}`
        const path = join(home, 'unclosed-long.csv')
        writeFileSync(path, body)
        const message = "a record is longer than 65536 bytes (the profile's maxLineBytes)"
        const file = await run(env, importArgs(path), 3)
        expect(file.stderr).toContain(`${path}:2:1: ${message}`)
        const piped = await dsh(importArgs('-'), { env, input: body })
        expect(piped.code).toBe(3)
        expect(piped.stderr).toContain(`stdin:2:1: ${message}`)
      },
    )
  })

  describe('profile regexes are checked at load', () => {
    both.each([
      ['(a+)+$', 'a repeat inside a repeat'],
      ['(a|a)+$', 'two alternatives of a repeat can match the same text'],
    ])('referencePattern %s is refused before any line is read', async (pattern, reason) => {
      const p = join(home, 'evil.json')
      writeFileSync(
        p,
        JSON.stringify({ ...JSON.parse(readFileSync(PROFILE, 'utf8')), referencePattern: pattern }),
      )
      const path = join(home, 'evil.csv')
      writeFileSync(path, `${HEAD}\n03/11/2026 09:15:22,${'a'.repeat(20)}!,Lunch,12.00,\n`)
      const before = await statementCount()
      const started = Date.now()
      const r = await run(
        env,
        ['reconcile', 'import', path, '--branch', 'nairobi', '--profile', p],
        3,
      )
      expect(Date.now() - started).toBeLessThan(2_000)
      expect(r.stderr).toContain(
        `${p}: referencePattern "${pattern}" can backtrack catastrophically`,
      )
      expect(r.stderr).toContain(reason)
      expect(await statementCount()).toBe(before)
    })
  })

  describe('only regular files and stdin', () => {
    once(
      '/dev/zero, a link to it, a directory and a FIFO exit 3 at once',
      async () => {
        const link = join(home, 'zero.csv')
        if (!existsSync(link)) symlinkSync('/dev/zero', link)
        const dir = join(home, 'a-dir.csv')
        mkdirSync(dir, { recursive: true })
        const fifo = join(home, 'pipe.csv')
        if (!existsSync(fifo)) execFileSync('mkfifo', [fifo])
        for (const [path, kind] of [
          ['/dev/zero', 'a device'],
          [link, 'a device'],
          [dir, 'a directory'],
          [fifo, 'a FIFO (named pipe)'],
        ] as const) {
          const r = await dsh(importArgs(path), { env, timeoutMs: 10_000 })
          expect([path, r.code]).toEqual([path, 3])
          expect(r.stderr).toContain(`${path} is ${kind}, not a regular file`)
        }
      },
      40_000,
    )

    once(
      '--max-bytes: a larger file is refused before reading; stdin once that much came',
      async () => {
        const path = join(home, 'small.csv')
        writeFileSync(path, `${HEAD}\n${ROW}\n`)
        const size = statSync(path).size
        const r = await run(env, importArgs(path, '--max-bytes', String(size - 1)), 3)
        expect(r.stderr).toContain(`${path} is ${size} bytes, more than --max-bytes ${size - 1}`)
        const piped = await dsh(importArgs('-', '--max-bytes', '1KiB'), {
          env,
          input: `${HEAD}\n${`${ROW}\n`.repeat(100)}`,
        })
        expect(piped.code).toBe(3)
        expect(piped.stderr).toContain('more than 1024 bytes (--max-bytes)')
        expect((await run(env, importArgs(path, '--max-bytes', 'lots'), 3)).stderr).toContain(
          '--max-bytes "lots" is not a size',
        )
      },
    )
  })

  describe('what a row may hold', () => {
    both.each([
      ['year 0026', '08/12/0026 09:15:22', 2, 1, 'is not between 2000-01-01 and 2100-12-31'],
      ['year 1999', '31/12/1999 23:59:59', 2, 1, 'is not between 2000-01-01 and 2100-12-31'],
      ['year 2101', '01/01/2101 00:00:00', 2, 1, 'is not between 2000-01-01 and 2100-12-31'],
    ])('a date in %s is an error', async (_label, date, line, column, message) => {
      const path = join(home, 'dates.csv')
      writeFileSync(path, `${HEAD}\n${date},R1,Lunch,12.00,\n`)
      const r = await run(env, importArgs(path), 3)
      expect(r.stderr).toContain(`${path}:${line}:${column}: bookedAt: "${date}" ${message}`)
    })

    both('2000-01-01 and 2100-12-31 themselves are read', async () => {
      const path = join(home, 'edges.csv')
      writeFileSync(
        path,
        `${HEAD}\n01/01/2000 00:00:00,E1,First,1.00,\n31/12/2100 23:59:59,E2,Last,2.00,\n`,
      )
      expect((await run(env, importArgs(path, '--json'))).json()).toMatchObject({ imported: 2 })
    })

    both('NUL and invalid UTF-8 are errors with line:column, nothing stored', async () => {
      const before = await statementCount()
      const nul = join(home, 'nul.csv')
      writeFileSync(nul, `${HEAD}\n${ROW}\n03/11/2026 09:16:22,R2,Te\u0000a,1.00,\n`)
      const a = await run(env, importArgs(nul), 3)
      expect(a.stderr).toContain(`${nul}:3:26: a NUL character (byte 0x00)`)
      const latin = join(home, 'latin.csv')
      writeFileSync(
        latin,
        Buffer.concat([
          Buffer.from(`${HEAD}\n03/11/2026 09:16:22,R2,Caf`),
          Buffer.from([0xe9]),
          Buffer.from(' au lait,1.00,\n'),
        ]),
      )
      const b = await run(env, importArgs(latin), 3)
      expect(b.stderr).toContain(`${latin}:2:27: not UTF-8 (byte 0xe9)`)
      // Valid multi-byte text before it counts as characters, not bytes.
      const late = join(home, 'late.csv')
      writeFileSync(
        late,
        Buffer.concat([Buffer.from(`${HEAD}\n03/11/2026 09:16:22,R3,Café `), Buffer.from([0xff])]),
      )
      expect((await run(env, importArgs(late), 3)).stderr).toContain(
        `${late}:2:29: not UTF-8 (byte 0xff)`,
      )
      expect(await statementCount()).toBe(before)
    })
  })

  describe('--skip-bad-rows', () => {
    const mixed = () => {
      const path = join(home, 'mixed.csv')
      writeFileSync(
        path,
        `${HEAD}\n03/11/2026 09:15:22,S1,Lunch,12.005,\n03/11/2026 09:16:22,S2,Tea,1.00,\n`,
      )
      return path
    }

    both('creates its file exclusively (0600); an existing one needs --force', async () => {
      const path = mixed()
      const rejects = join(home, 'rejects-new.csv')
      await run(env, importArgs(path, '--skip-bad-rows', rejects))
      expect(readFileSync(rejects, 'utf8')).toContain('2,4,"amount: ""12.005"" has 3 decimals')
      expect(statSync(rejects).mode & 0o777).toBe(0o600)
      writeFileSync(rejects, 'keep me\n')
      const again = await run(env, importArgs(path, '--skip-bad-rows', rejects), 3)
      expect(again.stderr).toContain(`--skip-bad-rows ${rejects} already exists`)
      expect(readFileSync(rejects, 'utf8')).toBe('keep me\n')
      await run(env, importArgs(path, '--skip-bad-rows', rejects, '--force'))
      expect(readFileSync(rejects, 'utf8')).toMatch(/^line,column,error,row\n2,4,/)
      expect((await run(env, importArgs(path, '--force'), 2)).stderr).toContain(
        '--force applies to --skip-bad-rows only',
      )
    })

    both('never through a symbolic link (even with --force), never the input itself', async () => {
      const path = mixed()
      const target = join(home, 'precious.txt')
      writeFileSync(target, 'precious\n')
      const link = join(home, 'rejects-link.csv')
      if (!existsSync(link)) symlinkSync(target, link)
      for (const extra of [[], ['--force']]) {
        const r = await run(env, importArgs(path, '--skip-bad-rows', link, ...extra), 3)
        expect(r.stderr).toContain('is a symbolic link; dsh does not write through links')
      }
      expect(readFileSync(target, 'utf8')).toBe('precious\n')
      const before = readFileSync(path, 'utf8')
      const self = await run(env, importArgs(path, '--skip-bad-rows', path, '--force'), 3)
      expect(self.stderr).toContain(`--skip-bad-rows ${path} is the statement being imported`)
      expect(readFileSync(path, 'utf8')).toBe(before)
    })

    both('a failed import removes the file it created', async () => {
      const path = join(home, 'broken.csv')
      writeFileSync(path, `${HEAD}\n03/11/2026 09:15:22,S1,"Lunch,12.00,\n`)
      const rejects = join(home, 'rejects-gone.csv')
      await run(env, importArgs(path, '--skip-bad-rows', rejects), 3)
      expect(existsSync(rejects)).toBe(false)
    })
  })
})

describe('byteGuard on chunks as a stream cuts them', () => {
  const bounds = { maxLineBytes: 64, maxBytes: 1 << 20, utf8: true }
  it('valid UTF-8 cut anywhere (inside a 2, 3 or 4 byte character) passes', () => {
    const text = Buffer.from('Café ☕ 𝄞 Nairobi\nline two é\n', 'utf8')
    for (let cut = 0; cut <= text.length; cut++) {
      const g = byteGuard(bounds)
      g.chunk(text.subarray(0, cut))
      g.chunk(text.subarray(cut))
      g.end()
    }
  })

  it('a sequence cut short at the end, a bad byte across chunks, a long line over chunks', () => {
    const g = byteGuard(bounds)
    g.chunk(Buffer.from('ok\nCaf\xc3', 'latin1'))
    expect(() => g.end()).toThrow(
      expect.objectContaining({
        line: 2,
        column: 4,
        message: expect.stringContaining('cut short'),
      }),
    )
    const h = byteGuard(bounds)
    h.chunk(Buffer.from('ab\xe2', 'latin1'))
    expect(() => h.chunk(Buffer.from('\x82x\n', 'latin1'))).toThrow(ByteGuardError)
    const long = byteGuard(bounds)
    long.chunk(Buffer.from(`${'x'.repeat(10)}\n${'y'.repeat(40)}`))
    expect(() => long.chunk(Buffer.from('y'.repeat(30)))).toThrow(
      expect.objectContaining({ line: 2, column: 1 }),
    )
  })

  it('without counting lines a fault carries its offset; locate places it in the file', async () => {
    const { home: dir, cleanup: rm } = tempDir()
    try {
      const path = join(dir, 'lazy.csv')
      const bytes = Buffer.concat([
        Buffer.from('one\ntwo é\nthr'),
        Buffer.from([0xff]),
        Buffer.from('ee\n'),
      ])
      writeFileSync(path, bytes)
      const g = byteGuard({ ...bounds, countLines: false })
      let caught: unknown
      try {
        g.chunk(bytes)
      } catch (e) {
        caught = e
      }
      expect(caught).toBeInstanceOf(ByteGuardError)
      const e = caught as ByteGuardError
      expect([e.line, e.offset]).toEqual([0, 14])
      const at = await locate(e, path)
      expect([at.line, at.column, at.message]).toEqual([3, 4, e.message])
      const long = byteGuard({ ...bounds, countLines: false })
      long.chunk(Buffer.from(`ab\n${'y'.repeat(40)}`))
      expect(() => long.chunk(Buffer.from('y'.repeat(30)))).toThrow(
        expect.objectContaining({ line: 0, offset: 3 }),
      )
    } finally {
      rm()
    }
  })
})
