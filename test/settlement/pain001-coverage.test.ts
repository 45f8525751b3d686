import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// Every pain.001 the suite writes is validated against the ISO XSD (issue 22): store tests through
// useStoreEnv (and usePaymentsEnv on top of it), which validates the home's outbox before removing
// it; a test with a home of its own calls validateOutbox itself. A new test that settles without
// either fails here.
const root = fileURLToPath(new URL('../..', import.meta.url))

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name)
    if (e.isDirectory()) return testFiles(p)
    return /\.test\.ts$/.test(e.name) ? [p] : []
  })
}

describe('pain.001 validation covers every test that settles', () => {
  it('each test file that runs a settlement validates its outbox', () => {
    const settles = /['"]settle['"]|\bsettle\(|\[\s*['"]demo['"]/
    const validates = /\buseStoreEnv\(|\busePaymentsEnv\(|\bvalidateOutbox\(/
    const files = testFiles(join(root, 'test')).filter((f) => settles.test(readFileSync(f, 'utf8')))
    expect(files.length).toBeGreaterThan(5)
    const unchecked = files
      .filter((f) => !validates.test(readFileSync(f, 'utf8')))
      .map((f) => relative(root, f))
    expect(unchecked).toEqual([])
  })
})
