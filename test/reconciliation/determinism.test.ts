import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import type { IdGen } from '../../src/core/ports.js'
import { useStoreEnv } from '../helpers/dialects.js'
import { type Seed, seedPayments, setUpBranches } from '../helpers/recon-env.js'
import { runInProcess } from '../helpers/run-cli.js'

const GOLDEN = fileURLToPath(new URL('../../fixtures/statements/golden/', import.meta.url))
const seeds = JSON.parse(readFileSync(`${GOLDEN}payments.json`, 'utf8')) as Seed[]

/** Ids `prefix_000001`, … in the order they are drawn: the same draws give the same ids. */
const counter = (): IdGen => {
  let n = 0
  return { next: (prefix: string) => `${prefix}_${String(++n).padStart(6, '0')}` }
}

/** Shuffles the data rows of a statement (a fixed permutation), keeping preamble and header. */
function shuffled(text: string): string {
  const rows = text.split('\r\n')
  const header = rows.findIndex((r) => r.startsWith('Receipt No.'))
  const data = rows.slice(header + 1).filter((r) => r !== '')
  const out: string[] = []
  for (let step = 0; step < 7; step++)
    for (let i = step; i < data.length; i += 7) out.push(data[i] as string)
  expect(out).not.toEqual(data)
  return `${[...rows.slice(0, header + 1), ...out].join('\r\n')}\r\n`
}

describe('a shuffled statement gives the same report', () => {
  const a = useStoreEnv('sqlite')
  const b = useStoreEnv('sqlite')
  const clock = { now: () => new Date('2026-11-10T08:00:00.000Z') }
  const reports: string[] = []
  beforeAll(async () => {
    const text = readFileSync(`${GOLDEN}mpesa.csv`, 'utf8')
    const file = join(b.home, 'shuffled.csv')
    writeFileSync(file, shuffled(text))
    for (const [s, path] of [
      [a, `${GOLDEN}mpesa.csv`],
      [b, file],
    ] as const) {
      // The same ids in both stores: the branch id is part of every line's fingerprint.
      await setUpBranches(s.env, ['westlands'], counter())
      await seedPayments(s.env, 'westlands', seeds)
      const imp = await runInProcess(
        ['reconcile', 'import', path, '--branch', 'westlands', '--profile', 'mpesa', '--json'],
        { env: s.env, clock, ids: counter() },
      )
      expect(imp.code, imp.stderr).toBe(0)
      const r = await runInProcess(['reconcile', 'run', '--branch', 'westlands', '--json'], {
        env: s.env,
        clock,
        ids: counter(),
      })
      expect(r.code, r.stderr).toBe(8)
      reports.push(r.stdout)
    }
  }, 120_000)

  it('byte for byte, apart from each line’s position in its file', () => {
    const [first, second] = reports as [string, string]
    const positionless = (t: string) =>
      t.replace(/"line": \d+,/g, '"line": 0,').replaceAll('shuffled.csv', 'mpesa.csv')
    expect(first).not.toBe(second)
    expect(positionless(second)).toBe(
      positionless(first.replace(/"file": "[^"]*mpesa.csv"/g, '"file": "mpesa.csv"')),
    )
  })
})
