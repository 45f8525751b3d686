import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'

// bin/test-tools.mjs (issue 30), run as `npm test` runs it, with a PATH of stubs: a directory
// holding exactly the tools a case wants present. Nothing is ever really installed: the install
// cases put a fake apt-get (and sudo) on that PATH, which records its arguments.
const SCRIPT = join(import.meta.dirname, '..', '..', 'bin', 'test-tools.mjs')
const SUDO = process.getuid?.() === 0 ? '' : 'sudo '
const command = (pkg: string) =>
  `  ${SUDO}apt-get update && ${SUDO}apt-get install -y --no-install-recommends ${pkg}`
const BROWSER_HINT = ' (or set DSH_CHROMIUM to a Chromium or Chrome you already have)'
const NO_INSTALL = { DSH_TEST_TOOLS_NO_INSTALL: '1' }

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function stubs(names: string[], scripts: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'dsh-tools-'))
  dirs.push(dir)
  for (const n of names) scripts[n] ??= 'exit 0'
  for (const [n, body] of Object.entries(scripts)) {
    writeFileSync(join(dir, n), `#!/bin/sh\n${body}\n`)
    chmodSync(join(dir, n), 0o755)
  }
  return dir
}

function check(path: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [SCRIPT], { env: { PATH: path, ...env }, encoding: 'utf8' })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const ALL = ['chromium', 'tmux', 'xmllint', 'systemd-analyze']

describe('bin/test-tools.mjs', () => {
  it('passes, silently, when every tool is on the PATH', () => {
    expect(check(stubs(ALL), NO_INSTALL)).toEqual({ code: 0, stdout: '', stderr: '' })
  })

  it.each([
    ['chromium', 'the dashboard browser tests in test/dashboard/', 'chromium', BROWSER_HINT],
    ['tmux', 'the terminal-prompt tests in test/cli/', 'tmux', ''],
    ['xmllint', 'the pain.001 XML schema checks', 'libxml2-utils', ''],
    ['systemd-analyze', 'the systemd unit check in test/packaging/', 'systemd', ''],
  ])('names exactly the missing %s and the command that installs it', (tool, why, pkg, hint) => {
    const r = check(stubs(ALL.filter((t) => t !== tool)), NO_INSTALL)
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: `The tests need ${tool} (${why}), which is not installed, and this run cannot install (DSH_TEST_TOOLS_NO_INSTALL=1). Run:\n${command(pkg)}${hint}\n`,
    })
  })

  it('names every missing tool, each package once', () => {
    const r = check(stubs(['tmux']), { ...NO_INSTALL, DSH_PG_URL: 'postgres://x@127.0.0.1/x' })
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(
      'The tests need chromium (the dashboard browser tests in test/dashboard/), xmllint (the pain.001 XML schema checks), systemd-analyze (the systemd unit check in test/packaging/), pg_dump (the backup tests on PostgreSQL), pg_restore (the backup tests on PostgreSQL), which are not installed, and this run cannot install (DSH_TEST_TOOLS_NO_INSTALL=1). Run:\n' +
        `${command('chromium libxml2-utils systemd postgresql-client')}${BROWSER_HINT}\n`,
    )
  })

  it('wants pg_dump and pg_restore only when the PostgreSQL suites run (DSH_PG_URL)', () => {
    expect(check(stubs(ALL), NO_INSTALL).code).toBe(0)
    const pg = { ...NO_INSTALL, DSH_PG_URL: 'postgres://x@127.0.0.1/x' }
    expect(check(stubs([...ALL, 'pg_dump', 'pg_restore']), pg).code).toBe(0)
    const r = check(stubs([...ALL, 'pg_dump']), pg)
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('The tests need pg_restore (the backup tests on PostgreSQL')
    expect(r.stderr).toContain(command('postgresql-client'))
  })

  it('takes the browser DSH_CHROMIUM names, and refuses one that is not there', () => {
    const browser = join(stubs(['chrome']), 'chrome')
    expect(
      check(stubs(['tmux', 'xmllint', 'systemd-analyze']), { ...NO_INSTALL, DSH_CHROMIUM: browser })
        .code,
    ).toBe(0)
    // A browser on the PATH does not excuse a wrong DSH_CHROMIUM: the tests would launch that one.
    const wrong = check(stubs(ALL), { ...NO_INSTALL, DSH_CHROMIUM: '/nonexistent/chrome' })
    expect(wrong).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'DSH_CHROMIUM=/nonexistent/chrome is not an executable file: point it at a browser, or unset it\n',
    })
  })

  it('without apt-get on the PATH, says so and names the command', () => {
    const r = check(stubs(['chromium', 'tmux', 'systemd-analyze']))
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(
      `The tests need xmllint (the pain.001 XML schema checks), which is not installed, and this run cannot install (apt-get is not on the PATH). Run:\n${command('libxml2-utils')}\n`,
    )
  })

  it('installs what is missing with apt-get, saying what and why on stderr', () => {
    const log = join(mkdtempSync(join(tmpdir(), 'dsh-tools-log-')), 'apt.log')
    dirs.push(join(log, '..'))
    // The fake apt-get records its arguments and, on install, puts xmllint on the PATH; the fake
    // sudo (used when this test does not run as root) runs the command it is given.
    const dir = stubs(['chromium', 'tmux', 'systemd-analyze'], {
      'apt-get': `echo "$DEBIAN_FRONTEND $*" >> ${log}\nif [ "$1" = install ]; then printf '#!/bin/sh\\n' > "\${0%/*}/xmllint"; /bin/chmod +x "\${0%/*}/xmllint"; fi`,
      sudo: 'shift\n[ "$1" = true ] && exit 0\nexec "$@"',
    })
    const r = check(dir)
    expect(r).toEqual({
      code: 0,
      stdout: '',
      stderr:
        'test tools: installing libxml2-utils with apt-get for xmllint (the pain.001 XML schema checks)\n',
    })
    expect(readFileSync(log, 'utf8')).toBe(
      'noninteractive update -q\nnoninteractive install -y -q --no-install-recommends libxml2-utils\n',
    )
  })

  it('stops with the command when apt-get fails', () => {
    const dir = stubs(['chromium', 'xmllint', 'systemd-analyze'], {
      'apt-get': 'echo "E: Unable to locate package tmux" >&2\nexit 100',
      sudo: 'shift\n[ "$1" = true ] && exit 0\nexec "$@"',
    })
    const r = check(dir)
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe(
      'test tools: installing tmux with apt-get for tmux (the terminal-prompt tests in test/cli/)\n' +
        'E: Unable to locate package tmux\n' +
        `Installing tmux did not give tmux (the terminal-prompt tests in test/cli/). Run it yourself and read apt-get's message:\n${command('tmux')}\n`,
    )
  })
})
