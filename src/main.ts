import { userInfo } from 'node:os'
import { buildProgram } from '../commands/index.js'
import { runCli } from './cli/run.js'
import type { Runtime } from './cli/runtime.js'
import { EXIT_CODES } from './core/exit-codes.js'
import { ulidGen } from './core/ids.js'
import { systemClock } from './core/ports.js'
import { pooledRandom } from './random.js'

function osUser(): string {
  try {
    return userInfo().username
  } catch {
    return process.env['USER'] ?? 'unknown'
  }
}

/** The verdict a judging command recorded before printing it (see Runtime.verdict). */
let verdictCode = 0

const rt: Runtime = {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  stdinIsTTY: process.stdin.isTTY === true,
  stdoutIsTTY: process.stdout.isTTY === true,
  stderrIsTTY: process.stderr.isTTY === true,
  get columns() {
    return process.stdout.isTTY ? process.stdout.columns : undefined
  },
  clock: systemClock,
  ids: ulidGen(Date.now, pooledRandom()),
  user: osUser(),
  verdict(kind) {
    verdictCode = EXIT_CODES[kind]
  },
}

// A reader that stops early (`dsh --help | head -1`) closes the pipe: that is not an error of dsh,
// so it ends quietly instead of an unhandled EPIPE; with 0, or with the verdict a judging command
// recorded (`dsh audit verify | head -1` on a broken chain still exits 8).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(verdictCode)
    throw err
  })
}

process.on('SIGINT', () => {
  process.stderr.write('\ndsh: interrupted\n')
  process.exit(130)
})

// If the event loop empties while a command is still awaiting (a bug such as a lock waiting on
// itself), Node would exit 0 with nothing done. A finance tool must never report that as success.
let finished = false
process.on('beforeExit', () => {
  if (finished) return
  process.stderr.write(
    'dsh: internal error: the command stopped before finishing\nhint: this is a bug in dsh; nothing after the last committed step was saved; report it with --verbose output\n',
  )
  process.exit(1)
})

// Every file dsh creates (store, WAL, lock, backups, keys) is the user's alone: 0600, folders 0700.
process.umask(0o077)

const code = await runCli(rt, process.argv.slice(2), buildProgram)
finished = true
// Let stdout and stderr drain before exiting (pipes are asynchronous), so piped JSON, an error
// included, is never cut short at the pipe's buffer size.
process.exitCode = code
const flushed = (s: NodeJS.WriteStream) =>
  new Promise<void>((resolve) => s.write('', () => resolve()))
await Promise.all([flushed(process.stdout), flushed(process.stderr)])
process.exit(code)
