import { execFile } from 'node:child_process'
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/imports.js'
import { tempHome } from '../helpers/temp-home.js'

// Issue 28 item 4: the packed tarball, not the work tree, installs into an empty folder and runs.
// Slow by nature: `npm pack` builds (prepack) and `npm install` compiles better-sqlite3 from source
// when no prebuilt binary is reachable (measured here on 2 shared cores: pack ~10 s, install ~90 s).
// npm reads its cache first (--prefer-offline): only what the cache lacks comes from the registry.

const run = promisify(execFile)
const VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version

/** The environment of a user's shell: no test runner's loader, no store of ours. */
function userEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DSH_HOME: home, NO_COLOR: '1' }
  for (const k of ['NODE_OPTIONS', 'DSH_DB', 'DSH_MASTER_KEY', 'DSH_MASTER_KEY_FILE', 'VITEST'])
    delete env[k]
  for (const k of Object.keys(env))
    if (k.startsWith('npm_') || k.startsWith('VITEST_')) delete env[k]
  return env
}

describe('npm pack', () => {
  let tmp: { home: string; cleanup: () => void }
  let tarball = ''
  let files: string[] = []

  beforeAll(async () => {
    tmp = tempHome()
    // Packed from a copy of the sources (tracked and new files, not dist/): prepack builds there,
    // so the tarball holds a fresh build and this work tree's dist/ (which other tests run) is
    // never rebuilt under them.
    const src = join(tmp.home, 'src-copy')
    const { stdout } = await run('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
      cwd: ROOT,
    })
    for (const f of stdout.split('\0').filter(Boolean)) {
      mkdirSync(dirname(join(src, f)), { recursive: true })
      try {
        copyFileSync(join(ROOT, f), join(src, f))
      } catch (err) {
        // a file deleted in the work tree but not yet in git's index
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
    }
    symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'))
    const out = join(tmp.home, 'out')
    mkdirSync(out)
    const packed = await run('npm', ['pack', '--json', '--pack-destination', out], {
      cwd: src,
      env: userEnv(join(tmp.home, 'unused')),
      maxBuffer: 64 * 1024 * 1024,
    })
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[]
    tarball = join(out, info!.filename)
    files = info!.files.map((f) => f.path).sort()
  }, 180_000)

  afterAll(() => tmp?.cleanup())

  it('holds exactly what a user needs: the launcher, the build, the dashboard, the docs', () => {
    expect(tarball).toBe(join(tmp.home, 'out', `dsh-${VERSION}.tgz`))
    const outside = files.filter(
      (f) =>
        !(
          ['bin/dsh', 'README.md', 'package.json'].includes(f) ||
          f.startsWith('dist/bundle/') ||
          f.startsWith('src/dashboard/assets/') ||
          f.startsWith('packaging/')
        ),
    )
    expect(outside).toEqual([])
    expect(files).toEqual(
      expect.arrayContaining([
        'bin/dsh',
        'dist/bundle/main.js',
        'src/dashboard/assets/index.html',
        'src/dashboard/assets/dashboard.js',
        'src/dashboard/assets/dashboard.css',
        'packaging/dsh-daemon.service',
        'packaging/README.md',
        'README.md',
      ]),
    )
    expect(files.some((f) => /^dist\/bundle\/chunks\/copy-facts-worker\.js$/.test(f))).toBe(true)
    // the bundle's build facts (for the bundle tests) and TypeScript sources are not shipped
    expect(files.filter((f) => f.endsWith('meta.json') || f.endsWith('.ts'))).toEqual([])
  })

  it('installs into an empty folder and runs `npx dsh version` and `npx dsh demo --json`', async () => {
    const app = join(tmp.home, 'app')
    mkdirSync(app)
    writeFileSync(join(app, 'package.json'), '{"name":"dsh-user","private":true}\n')
    const env = userEnv(join(tmp.home, 'dsh-home'))
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], {
      cwd: app,
      env,
      maxBuffer: 64 * 1024 * 1024,
    })
    const version = await run('npx', ['--no', 'dsh', 'version'], { cwd: app, env })
    expect(version.stdout.split('\n')[0]).toBe(`dsh ${VERSION}`)
    const demo = await run('npx', ['--no', 'dsh', 'demo', '--json'], {
      cwd: app,
      env,
      maxBuffer: 64 * 1024 * 1024,
    })
    const report = JSON.parse(demo.stdout) as {
      branches: { code: string }[]
      payments: number
      batches: number
      planted: { category: string; reference: string }[]
      found: { category: string; reference: string }[]
    }
    expect(report.branches.map((b) => b.code)).toEqual(['nairobi', 'kampala', 'dar'])
    expect(report.payments).toBeGreaterThan(0)
    expect(report.batches).toBeGreaterThan(0)
    // the demo's reconciliation finds every discrepancy it planted
    expect(report.found).toEqual(report.planted)
    expect(report.planted.length).toBeGreaterThan(0)
  }, 600_000)
})
