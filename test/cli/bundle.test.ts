import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DSH_BIN, dsh } from '../helpers/cli.js'
import { tempHome } from '../helpers/temp-home.js'

// bin/dsh runs the esbuild bundle (dist/bundle/, written by bin/bundle.mjs in `npm run
// build`). These tests look at it from the outside, as a user runs it: which files a command
// loads (code splitting must keep commands/index.ts's lazy loading), and that `--verbose` stacks
// name the TypeScript sources through the source maps.

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const home = tempHome()
const env = { DSH_HOME: home.home }

interface Meta {
  outputs: Record<string, { inputs: Record<string, unknown> }>
}
const meta = JSON.parse(readFileSync(join(ROOT, 'dist/bundle/meta.json'), 'utf8')) as Meta

/** A module hook that appends the path of every file the program loads to DSH_TEST_LOADS. */
const HOOKS = `
import { appendFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
export async function load(url, context, next) {
  if (url.startsWith('file:')) appendFileSync(process.env.DSH_TEST_LOADS, fileURLToPath(url) + '\\n')
  return next(url, context)
}
`
const REGISTER = `import { register } from 'node:module'
register(${JSON.stringify(pathToFileURL(join(home.home, 'hooks.mjs')).href)})
`

/** Runs `node bin/dsh ...args` with the hook; returns the loaded files, relative to the repo. */
function loadedBy(args: string[]): string[] {
  const log = join(home.home, `loads-${args.join('-')}.txt`)
  writeFileSync(log, '')
  const r = spawnSync(
    process.execPath,
    ['--import', pathToFileURL(join(home.home, 'register.mjs')).href, DSH_BIN, ...args],
    {
      env: { ...process.env, ...env, NO_COLOR: '1', DSH_TEST_LOADS: log, NODE_OPTIONS: '' },
      encoding: 'utf8',
    },
  )
  expect(r.status, r.stderr).toBe(0)
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((f) => relative(ROOT, f))
    .filter((f) => !f.startsWith('..')) // the hook itself, in the temporary home
}

/** The sources (repo-relative inputs) bundled into the given output files. */
function sourcesOf(files: string[]): string[] {
  return files.flatMap((f) => Object.keys(meta.outputs[f]?.inputs ?? {}))
}

beforeAll(async () => {
  writeFileSync(join(home.home, 'hooks.mjs'), HOOKS)
  writeFileSync(join(home.home, 'register.mjs'), REGISTER)
  expect((await dsh(['init'], { env })).code).toBe(0)
  expect((await dsh(['tenant', 'add', 't', '--name', 'T'], { env })).code).toBe(0)
})
afterAll(() => home.cleanup())

describe('the bundled build', () => {
  it('`dsh --help` loads the bundle only, without the store, kysely or any command body', () => {
    const files = loadedBy(['--help'])
    expect(files[0]).toBe(join('bin', 'dsh'))
    const ours = files.slice(1).filter((f) => !f.startsWith('node_modules/'))
    expect(
      ours.every((f) => f.startsWith('dist/bundle/')),
      ours.join('\n'),
    ).toBe(true)
    expect(files.filter((f) => f.startsWith('node_modules/'))).toEqual([])
    const sources = sourcesOf(ours)
    expect(sources).toContain('commands/index.ts')
    expect(sources).toContain('node_modules/commander/lib/command.js')
    const heavy = sources.filter(
      (s) =>
        s.startsWith('node_modules/kysely/') ||
        s.startsWith('src/store/') ||
        s === 'commands/branch.ts' ||
        s === 'commands/pay.ts',
    )
    expect(heavy).toEqual([])
  })

  it('`dsh branch list` loads the store and its command, not the daemon, prompts or HTTP client', () => {
    const files = loadedBy(['branch', 'list'])
    const sources = sourcesOf(files.filter((f) => f.startsWith('dist/bundle/')))
    expect(sources).toContain('commands/branch.ts')
    expect(sources).toContain('src/store/connect.ts')
    expect(sources.some((s) => s.startsWith('node_modules/kysely/'))).toBe(true)
    // better-sqlite3 stays external: loaded from node_modules, not bundled
    expect(files).toContain('node_modules/better-sqlite3/lib/index.js')
    expect(
      Object.keys(meta.outputs).some((o) =>
        sourcesOf([o]).some((s) => s.includes('better-sqlite3')),
      ),
    ).toBe(false)
    const unwanted = sources.filter(
      (s) =>
        s.startsWith('src/daemon/') ||
        s === 'commands/pay.ts' ||
        s.startsWith('node_modules/undici/') ||
        s.startsWith('node_modules/@inquirer/'),
    )
    expect(unwanted).toEqual([])
  })

  it('--verbose prints a stack that names the TypeScript sources (source maps)', async () => {
    const r = await dsh(
      ['branch', 'add', 'x', '--tenant', 't', '--name', 'X', '--currency', 'XYZ', '--verbose'],
      { env },
    )
    expect(r.code).toBe(3)
    const frames = r.stderr.split('\n').filter((l) => /^\s+at /.test(l))
    expect(frames.length, r.stderr).toBeGreaterThan(2)
    expect(frames[0]).toMatch(/[/\\]src[/\\]core[/\\]errors\.ts:\d+:\d+\)$/)
    expect(r.stderr).toMatch(/[/\\]src[/\\]tenants[/\\]branches\.ts:\d+:\d+\)/)
    expect(r.stderr).not.toContain('dist/bundle')
  })

  it('`dsh payments list` shows local times without starting an Intl formatter (~14 ms of ICU)', async () => {
    for (const args of [
      ['branch', 'add', 'nbo', '--tenant', 't', '--name', 'Nairobi', '--currency', 'KES'],
      ['gateway', 'setup', 'cash', '--branch', 'nbo'],
      ['pay', '--branch', 'nbo', '--amount', '100', '--method', 'cash', '--order', 'o-1'],
    ])
      expect((await dsh(args, { env })).code).toBe(0)
    const counter = join(home.home, 'count-intl.mjs')
    writeFileSync(
      counter,
      `const Real = Intl.DateTimeFormat
let made = 0
Intl.DateTimeFormat = function (...a) { made++; return new Real(...a) }
process.on('exit', () => process.stderr.write('Intl.DateTimeFormat: ' + made + '\\n'))
`,
    )
    const run = (args: string[]) =>
      spawnSync(process.execPath, ['--import', pathToFileURL(counter).href, DSH_BIN, ...args], {
        env: { ...process.env, ...env, NO_COLOR: '1', NODE_OPTIONS: '' },
        encoding: 'utf8',
      })
    const list = run(['payments', 'list'])
    expect(list.status, list.stderr).toBe(0)
    expect(list.stdout).toMatch(/Created \(EAT\)/)
    expect(list.stdout).toMatch(/\n\S+ {2}\d{4}-\d{2}-\d{2} \d{2}:\d{2} {2}nbo /)
    expect(list.stderr).toContain('Intl.DateTimeFormat: 0')
    // Control: the counter does see a formatter where one is made (a zone is checked with Intl).
    const zone = run(['tenant', 'set', 't', '--timezone', 'Africa/Nairobi'])
    expect(zone.stderr).toMatch(/Intl\.DateTimeFormat: [1-9]/)
  })
})
