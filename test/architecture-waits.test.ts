import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT, report } from './helpers/imports.js'
import { scanTimers, testSources, WAIT_HELPER } from './helpers/waits-rule.js'

// Issue 24: no sleep stands in for a state in test/ (test/helpers/waits-rule.ts says the rule).

describe('the timer rule itself', () => {
  it('catches a planted bare wait in a file on disk, and only the undeclared timers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsh-waits-'))
    try {
      const planted = join(dir, 'planted.test.ts')
      writeFileSync(
        planted,
        [
          "import { sleep } from './x.js'",
          'await new Promise((r) => setTimeout(r, 300))', // 2: the classic
          'await sleep(300) // every customer has paid by now', // 3: a comment is no excuse
          "import { setTimeout as wait } from 'node:timers/promises'", // 4
          '// timer(gateway-delay): the fake bank answers after the client gave up',
          'await sleep(120)', // 6: declared on the line above
          'setTimeout(() => child.kill(), 5_000) // timer(deadline): a stuck child fails the test', // 7
          'await sleep(50) // timer(nap): just in case', // 8: no such kind
          'await sleep(50) // timer(pacing):', // 9: no reason
          "const s = 'setTimeout(r, 1)' // in a string: still code, still refused", // 10
          '// await sleep(1000) in a comment is no timer', // 11
          'const id = setInterval(tick, 20)', // 12
          'await sleep(5) // timer(bench): a benchmark timer outside test/bench/', // 13
        ].join('\n'),
      )
      const found = scanTimers(planted, readFileSync(planted, 'utf8'))
      expect(found.map((o) => o.line)).toEqual([2, 3, 4, 8, 9, 10, 12, 13])
      expect(found[0]?.message).toBe(
        'setTimeout( in a test: wait for the state with waitFor (test/helpers/wait.ts), or say why it is no wait with // timer(<kind>): <why>',
      )
      expect(found[3]?.message).toBe(
        'sleep(: timer(nap) is no kind of timer allowed (gateway-delay, deadline, pacing, clock, bench)',
      )
      expect(found[4]?.message).toBe(
        'sleep(: timer(pacing) needs a reason of a few words after the colon',
      )
      expect(found[7]?.message).toBe('sleep(: timer(bench) is for files under test/bench only')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('covers every test source but the wait helper', () => {
    const files = testSources(ROOT)
    expect(files).toContain(join('test', 'daemon', 'races.test.ts'))
    expect(files).toContain(join('test', 'bench', 'reconcile.mjs'))
    expect(files).not.toContain(WAIT_HELPER)
  })
})

describe('test/ waits for states, never for a time', () => {
  it('no bare setTimeout, setInterval, sleep( or timers/promises outside test/helpers/wait.ts', () => {
    const offences = testSources(ROOT).flatMap((f) =>
      scanTimers(f, readFileSync(join(ROOT, f), 'utf8')),
    )
    expect(offences, `timers standing in for states:\n${report(offences)}`).toEqual([])
  })
})
