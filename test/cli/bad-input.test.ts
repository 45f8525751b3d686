import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CliResult, dsh } from '../helpers/cli.js'
import { tempHome } from '../helpers/temp-home.js'

const home = tempHome()
const env = { DSH_HOME: home.home }
const run = (...args: string[]) => dsh(args, { env })

beforeAll(async () => {
  expect((await run('init')).code).toBe(0)
  expect((await run('tenant', 'add', 't', '--name', 'T')).code).toBe(0)
  expect(
    (await run('branch', 'add', 'westlands', '--tenant', 't', '--name', 'W', '--currency', 'KES'))
      .code,
  ).toBe(0)
})
afterAll(() => home.cleanup())

function expectClean(r: CliResult, code: number, pattern?: RegExp) {
  expect(r.code, `stderr: ${r.stderr}`).toBe(code)
  expect(r.stderr).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/)
  expect(r.stdout).toBe('')
  expect(r.stderr).toMatch(/^dsh: /)
  if (pattern) expect(r.stderr).toMatch(pattern)
}

const add = (...extra: string[]) => run('branch', 'add', ...extra)

describe('bad input gets a clear error and the documented exit code', () => {
  it('unknown currency → 3 naming it', async () => {
    expectClean(await add('x', '--tenant', 't', '--name', 'X', '--currency', 'XYZ'), 3, /XYZ/)
  })
  it('bad time zone → 3', async () => {
    expectClean(
      await add(
        'x',
        '--tenant',
        't',
        '--name',
        'X',
        '--currency',
        'KES',
        '--timezone',
        'Mars/Olympus',
      ),
      3,
      /time zone/,
    )
  })
  it('negative and 3-decimal tax rates → 3', async () => {
    expectClean(
      await add('x', '--tenant', 't', '--name', 'X', '--currency', 'KES', '--tax-rate', '-1'),
      3,
    )
    expectClean(
      await add('x', '--tenant', 't', '--name', 'X', '--currency', 'KES', '--tax-rate', '16.125'),
      3,
      /2 decimals/,
    )
    expectClean(
      await add('x', '--tenant', 't', '--name', 'X', '--currency', 'KES', '--tax-rate', '101'),
      3,
    )
  })
  it('bad branch codes → 3', async () => {
    for (const code of ['Westlands', '1abc', 'a_b', 'a--b', 'x-']) {
      expectClean(
        await add(code, '--tenant', 't', '--name', 'X', '--currency', 'KES'),
        3,
        /not valid/,
      )
    }
  })
  it('unknown tenant or branch → 4', async () => {
    expectClean(
      await add('x4', '--tenant', 'nobody', '--name', 'X', '--currency', 'KES'),
      4,
      /nobody/,
    )
    expectClean(await run('branch', 'show', 'ghost'), 4, /ghost/)
    expectClean(await run('branch', 'disable', 'ghost'), 4)
  })
  it('an existing branch code → 5', async () => {
    expectClean(await add('westlands', '--tenant', 't', '--name', 'W', '--currency', 'KES'), 5)
  })
  it('precedence: invalid input (3) before not found (4)', async () => {
    expectClean(await add('x4', '--tenant', 'nobody', '--name', 'X', '--currency', 'XYZ'), 3)
  })
  it('missing flags without a terminal → 2 listing every missing flag at once', async () => {
    const r = await add('x')
    expectClean(r, 2, /--tenant, --name, --currency/)
  })
  it('unknown command and option → 2', async () => {
    expectClean(await run('brnch', 'list'), 2)
    expectClean(await run('branch', 'list', '--frobnicate'), 2)
  })
  it('an unreachable PostgreSQL URL → 7 with the host and no password', async () => {
    const r = await run(
      'branch',
      'list',
      '--db',
      'postgres://finance:hunter2secret@127.0.0.1:1/dsh',
    )
    expectClean(r, 7, /127\.0\.0\.1:1/)
    expect(r.stderr).not.toContain('hunter2secret')
  })
  it('a store that does not exist → 7 with a hint to run dsh init', async () => {
    expectClean(await run('branch', 'list', '--db', `${home.home}/nope.db`), 7, /dsh init/)
  })
  it('errors are JSON on stderr with --json', async () => {
    const r = await add('x', '--tenant', 't', '--name', 'X', '--currency', 'XYZ', '--json')
    expect(r.code).toBe(3)
    expect(r.stdout).toBe('')
    expect(JSON.parse(r.stderr)).toEqual({
      error: {
        code: 'unknown_currency',
        message: expect.stringContaining('XYZ'),
        hint: expect.any(String),
      },
    })
  })
  it('--verbose adds the stack trace', async () => {
    const r = await add('x', '--tenant', 't', '--name', 'X', '--currency', 'XYZ', '--verbose')
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(/\n\s+at /)
  })
  it('help and version exit 0', async () => {
    const help = await run('--help')
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Examples:')
    const v = await run('--version')
    expect(v.code).toBe(0)
    expect(v.stdout).toMatch(/^\d+\.\d+\.\d+\n$/)
    expect((await run('version', '--json')).json()).toMatchObject({
      version: expect.any(String),
      node: process.version,
    })
  })
  it('exit codes are listed by dsh exit-codes and dsh help exit-codes', async () => {
    const list = await run('exit-codes', '--json')
    expect(list.code).toBe(0)
    const codes = list.json<{ code: number }[]>().map((c) => c.code)
    expect(codes).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 130])
    const help = await run('help', 'exit-codes')
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/130\s+interrupted/)
  })
})

describe('shell completion', () => {
  it('prints a bash script that parses and knows the command tree', async () => {
    const r = await run('completion', 'bash')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('"branch add"')
    expect(r.stdout).toContain('complete -o default -F _dsh dsh')
    const { spawnSync } = await import('node:child_process')
    const check = spawnSync('bash', ['-n'], { input: r.stdout })
    expect(check.status).toBe(0)
    expect((await run('completion', 'fish')).stdout).toContain(
      "complete -c dsh -n '__fish_use_subcommand'",
    )
    expect((await run('completion', 'tcsh')).code).toBe(2)
  })
})
