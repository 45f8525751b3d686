#!/usr/bin/env node
// The system tools the tests drive, in one list: checked before every `npm test` (the `pretest`
// script) and by `.ci/run`. Missing ones are installed with apt-get when this process may (root,
// or passwordless sudo); otherwise it stops with the one command to run. Tests never install.
//
//   DSH_TEST_TOOLS_NO_INSTALL=1   check only: never install (the script's own test uses it)
//   DSH_CHROMIUM=/path/to/chrome  use that browser instead of one on the PATH
//
// Not listed, on purpose: PostgreSQL (`.ci/pg-start.sh` installs and starts it, and the PostgreSQL
// suites skip without DSH_PG_URL); node, sh and bash (the suite cannot start without them);
// chattr (e2fsprogs, essential on Debian; one test falls back to file modes without it);
// hledger (an optional comparison in `npm run bench`, never in a test).
import { spawnSync } from 'node:child_process'
import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { pathToFileURL } from 'node:url'

/**
 * Every tool the tests drive: the commands that satisfy it (any one), the Debian package that
 * provides it, and why the tests need it. `when` limits a tool to the runs that use it.
 */
export const TOOLS = [
  {
    name: 'chromium',
    commands: ['chromium', 'chromium-browser', 'google-chrome'],
    env: 'DSH_CHROMIUM',
    package: 'chromium',
    why: 'the dashboard browser tests in test/dashboard/',
  },
  {
    name: 'tmux',
    commands: ['tmux'],
    package: 'tmux',
    why: 'the terminal-prompt tests in test/cli/',
  },
  {
    name: 'xmllint',
    commands: ['xmllint'],
    package: 'libxml2-utils',
    why: 'the pain.001 XML schema checks',
  },
  {
    name: 'systemd-analyze',
    commands: ['systemd-analyze'],
    package: 'systemd',
    why: 'the systemd unit check in test/packaging/',
  },
  {
    name: 'pg_dump',
    commands: ['pg_dump'],
    package: 'postgresql-client',
    why: 'the backup tests on PostgreSQL',
    when: (env) => Boolean(env.DSH_PG_URL),
  },
  {
    name: 'pg_restore',
    commands: ['pg_restore'],
    package: 'postgresql-client',
    why: 'the backup tests on PostgreSQL',
    when: (env) => Boolean(env.DSH_PG_URL),
  },
]

/** The executable file `command` names on `path` (a PATH string), or undefined. */
export function onPath(command, path = process.env.PATH ?? '') {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue
    const file = join(dir, command)
    if (isExecutable(file)) return file
  }
  return undefined
}

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK)
    return statSync(file).isFile()
  } catch {
    return false
  }
}

/** The browser the dashboard tests launch: DSH_CHROMIUM, else the first one on the PATH. */
export function chromiumPath(env = process.env) {
  return locate(TOOLS[0], env)
}

function locate(tool, env) {
  if (tool.env && env[tool.env]) return isExecutable(env[tool.env]) ? env[tool.env] : undefined
  return tool.commands.map((c) => onPath(c, env.PATH)).find(Boolean)
}

/** The tools this run needs that are not there. */
export function missingTools(env = process.env) {
  return TOOLS.filter((t) => !t.when || t.when(env)).filter((t) => !locate(t, env))
}

function packagesOf(tools) {
  return [...new Set(tools.map((t) => t.package))]
}

function installCommand(packages, sudo) {
  const s = sudo ? 'sudo ' : ''
  return `${s}apt-get update && ${s}apt-get install -y --no-install-recommends ${packages.join(' ')}`
}

function describe(tools) {
  return tools.map((t) => `${t.name} (${t.why})`).join(', ')
}

/** How this process may install: 'root', 'sudo', or a reason it cannot. */
function installer(env) {
  if (env.DSH_TEST_TOOLS_NO_INSTALL === '1') return { reason: 'DSH_TEST_TOOLS_NO_INSTALL=1' }
  if (!onPath('apt-get', env.PATH)) return { reason: 'apt-get is not on the PATH' }
  if (process.getuid?.() === 0) return { how: 'root' }
  if (onPath('sudo', env.PATH) && spawnSync('sudo', ['-n', 'true'], { env }).status === 0) {
    return { how: 'sudo' }
  }
  return { reason: 'not root and sudo asks for a password' }
}

function run(argv, sudo, env) {
  const [cmd, args] = sudo ? ['sudo', ['-n', ...argv]] : [argv[0], argv.slice(1)]
  // apt's output goes to stderr: stdout stays the tests' own.
  const r = spawnSync(cmd, args, {
    env: { ...env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 2, 2],
  })
  return r.status ?? 1
}

function stop(message) {
  process.stderr.write(`${message}\n`)
  process.exit(1)
}

function main(env = process.env) {
  // A browser named by hand that is not there is a typo to fix, not a package to install.
  for (const t of TOOLS) {
    if (t.env && env[t.env] && !isExecutable(env[t.env])) {
      stop(`${t.env}=${env[t.env]} is not an executable file: point it at a browser, or unset it`)
    }
  }
  const missing = missingTools(env)
  if (missing.length === 0) return
  const packages = packagesOf(missing)
  const root = process.getuid?.() === 0
  const hint = missing.some((t) => t.env)
    ? ' (or set DSH_CHROMIUM to a Chromium or Chrome you already have)'
    : ''
  const can = installer(env)
  if (!can.how) {
    stop(
      `The tests need ${describe(missing)}, which ${missing.length === 1 ? 'is' : 'are'} not installed, and this run cannot install (${can.reason}). Run:\n  ${installCommand(packages, !root)}${hint}`,
    )
  }
  const sudo = can.how === 'sudo'
  process.stderr.write(
    `test tools: installing ${packages.join(' ')} with apt-get for ${describe(missing)}\n`,
  )
  const failed =
    run(['apt-get', 'update', '-q'], sudo, env) ||
    run(['apt-get', 'install', '-y', '-q', '--no-install-recommends', ...packages], sudo, env)
  const still = missingTools(env)
  if (failed || still.length > 0) {
    stop(
      `Installing ${packages.join(' ')} did not give ${describe(still.length ? still : missing)}. Run it yourself and read apt-get's message:\n  ${installCommand(packages, !root)}${hint}`,
    )
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main()
  } catch (e) {
    stop(`test tools: ${e instanceof Error ? e.message : String(e)}`)
  }
}
