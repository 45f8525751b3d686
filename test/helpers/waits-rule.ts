import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Offence, stripComments } from './imports.js'

/**
 * The rule of issue 24: no timer stands in for a state in test/. A test waits for the state it
 * needs (a ledger row, a DB status, a line on a stream) with waitFor from test/helpers/wait.ts,
 * the one place allowed a bare timer. Any other setTimeout, setInterval, sleep( or
 * timers/promises in test/ is refused unless its line, or the line above, says which of the few
 * timers that are not waits it is: `// timer(<kind>): <why>`, with a kind from TIMER_KINDS and a
 * reason. A reviewer sees each such line; a kind outside the list, or no reason, is refused too.
 */
export const TIMER_KINDS: Record<string, string> = {
  'gateway-delay':
    'a fake gateway or test server answering late on purpose (the delay is the test)',
  deadline:
    'a deadline that kills or aborts something stuck, failing the test; nothing waits on it',
  pacing: 'spacing out a load generator or a retry loop of its own (not a wait for a result)',
  clock: 'wall-clock time the product reads must pass (e.g. names made per second)',
  bench: 'a benchmark script (test/bench/*.mjs, plain node) timing or pacing what it measures',
}
/** Kinds allowed only under one folder. */
const ONLY_UNDER: Record<string, string> = { bench: join('test', 'bench') }

export const WAIT_HELPER = join('test', 'helpers', 'wait.ts')
/** The rule and its own test name the patterns they look for (the test plants them on disk). */
const RULE_FILES = [
  join('test', 'helpers', 'waits-rule.ts'),
  join('test', 'architecture-waits.test.ts'),
]
const TIMER = /(?<![\w$.])(setTimeout|setInterval|sleep)\s*\(|timers\/promises/g
const ALLOW = /\/\/\s*timer\(([\w-]+)\):\s*(.*)$/

/** Every timer in `source` that is not declared as one of TIMER_KINDS, with its line. */
export function scanTimers(file: string, source: string): Offence[] {
  const code = stripComments(source).split('\n')
  const raw = source.split('\n')
  const out: Offence[] = []
  code.forEach((line, i) => {
    for (const m of line.matchAll(TIMER)) {
      const what = m[1] ? `${m[1]}(` : 'timers/promises'
      const allow = (raw[i] ?? '').match(ALLOW) ?? (raw[i - 1] ?? '').match(ALLOW)
      let message: string | undefined
      if (!allow)
        message = `${what} in a test: wait for the state with waitFor (test/helpers/wait.ts), or say why it is no wait with // timer(<kind>): <why>`
      else if (!TIMER_KINDS[allow[1] ?? ''])
        message = `${what}: timer(${allow[1]}) is no kind of timer allowed (${Object.keys(TIMER_KINDS).join(', ')})`
      else if (ONLY_UNDER[allow[1] ?? ''] && !file.includes(ONLY_UNDER[allow[1] ?? ''] as string))
        message = `${what}: timer(${allow[1]}) is for files under ${ONLY_UNDER[allow[1] ?? '']} only`
      else if ((allow[2] ?? '').trim().split(/\s+/).length < 3)
        message = `${what}: timer(${allow[1]}) needs a reason of a few words after the colon`
      if (message) out.push({ file, line: i + 1, message })
    }
  })
  return out
}

/** The test sources the rule covers: every .ts and .mjs under `dir`, except the wait helper. */
export function testSources(root: string, dir = 'test'): string[] {
  return readdirSync(join(root, dir), { recursive: true })
    .map(String)
    .filter((f) => /\.(ts|mjs)$/.test(f))
    .map((f) => join(dir, f))
    .filter((f) => f !== WAIT_HELPER && !RULE_FILES.includes(f))
    .sort()
}
