import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

// .ci/summary.mjs: the CI gate's closing line from vitest's JSON report, and the skip-list check.
const SCRIPT = join(import.meta.dirname, '..', '..', '.ci', 'summary.mjs')
const dir = mkdtempSync(join(tmpdir(), 'dsh-summary-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const test = (title: string, status: string, ancestors = ['suite']) => ({
  title,
  status,
  ancestorTitles: ancestors,
})
const report = (files: { name: string; status: string; tests: object[] }[], passed: number) => ({
  numPassedTests: passed,
  numFailedTests: files
    .flatMap((f) => f.tests)
    .filter((t) => (t as { status: string }).status === 'failed').length,
  numFailedTestSuites: 0,
  success: true,
  testResults: files.map((f) => ({
    name: join(process.cwd(), f.name),
    status: f.status,
    assertionResults: f.tests,
  })),
})

let n = 0
function summary(rep: unknown, skipList: string) {
  const r = join(dir, `r${n}.json`)
  const l = join(dir, `l${n++}.txt`)
  if (rep !== undefined) writeFileSync(r, typeof rep === 'string' ? rep : JSON.stringify(rep))
  writeFileSync(l, skipList)
  const p = spawnSync(process.execPath, [SCRIPT, r, l], { encoding: 'utf8' })
  return { code: p.status, stdout: p.stdout, stderr: p.stderr }
}

const ONE_SKIP = [
  {
    name: 'test/a.test.ts',
    status: 'passed',
    tests: [test('runs', 'passed'), test('sqlite only', 'skipped', ['on postgres'])],
  },
]
const LIST =
  '# why each test is skipped\n\ntest/a.test.ts > on postgres > sqlite only  # a SQLite file lock\n'

describe('.ci/summary.mjs', () => {
  it('prints the counts it read, last and alone, when the skips are the listed ones', () => {
    expect(summary(report(ONE_SKIP, 1), LIST)).toEqual({
      code: 0,
      stdout: '1 passed, 0 failed, 1 skipped\n',
      stderr: '',
    })
  })

  it('fails, naming the test, when a test is skipped that the list does not name', () => {
    const r = summary(report(ONE_SKIP, 1), '')
    expect(r.code).toBe(1)
    expect(r.stdout).toBe(
      'skipped but not in ' +
        `${join(dir, `l${n - 1}.txt`)}: test/a.test.ts > on postgres > sqlite only\n` +
        '1 passed, 1 failed, 1 skipped\n',
    )
  })

  it('fails when a listed test ran (or is gone)', () => {
    const ran = [{ name: 'test/a.test.ts', status: 'passed', tests: [test('runs', 'passed')] }]
    const r = summary(report(ran, 1), LIST)
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(
      'but not skipped (ran, or gone): test/a.test.ts > on postgres > sqlite only\n',
    )
    expect(r.stdout.split('\n').at(-2)).toBe('1 passed, 1 failed, 0 skipped')
  })

  it('fails without a counts line when the report is missing or not a report', () => {
    const missing = summary(undefined, LIST)
    expect(missing.code).toBe(1)
    expect(missing.stdout).toBe('')
    expect(missing.stderr).toMatch(/^could not read the test counts from .*r\d+\.json: ENOENT/)
    const garbage = summary('{"not":"vitest"}', LIST)
    expect(garbage).toMatchObject({ code: 1, stdout: '' })
    expect(garbage.stderr).toContain('it is not a vitest JSON report')
  })

  it('counts a file that failed to load as a failure, on a line of its own before the counts', () => {
    const files = [...ONE_SKIP, { name: 'test/b.test.ts', status: 'failed', tests: [] }]
    const r = summary({ ...report(files, 1), success: false }, LIST)
    expect(r.code).toBe(1)
    expect(r.stdout.split('\n').slice(-3)).toEqual([
      `1 test files failed to run: ${join(process.cwd(), 'test/b.test.ts')}`,
      '1 passed, 1 failed, 1 skipped',
      '',
    ])
  })

  it('refuses a skip-list line that does not say why', () => {
    const r = summary(report(ONE_SKIP, 1), 'test/a.test.ts > on postgres > sqlite only\n')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/l\d+\.txt:1: say why it is skipped: "<test> {2}# <why>"\n$/)
  })
})
