#!/usr/bin/env node
// Reads vitest's JSON report and prints the gate's closing line, `N passed, N failed, N skipped`,
// alone and last. Fails (exit 1) when the report cannot be read (no counts are made up), when a
// test failed, or when the skipped tests are not exactly those test/skipped.txt lists.
//
//   node .ci/summary.mjs vitest.json test/skipped.txt
//
// test/skipped.txt: one skipped test a line, `<file> > <describe> > … > <test>  # <why>`;
// blank lines and lines starting with # are ignored.
import { readFileSync } from 'node:fs'

const [reportPath = 'vitest.json', listPath = 'test/skipped.txt'] = process.argv.slice(2)

function fail(message) {
  process.stderr.write(`${message}\n`)
  process.exit(1)
}

function readReport(path) {
  let r
  try {
    r = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    fail(`could not read the test counts from ${path}: ${e instanceof Error ? e.message : e}`)
  }
  if (typeof r?.numPassedTests !== 'number' || !Array.isArray(r.testResults))
    fail(`could not read the test counts from ${path}: it is not a vitest JSON report`)
  return r
}

/** `<file> > <ancestors> > <title>` of every skipped or todo test, file relative to the repo. */
function skippedIn(r) {
  const root = `${process.cwd()}/`
  return r.testResults.flatMap((f) =>
    (f.assertionResults ?? [])
      .filter((a) => ['skipped', 'pending', 'todo'].includes(a.status))
      .map((a) => [f.name.replace(root, ''), ...(a.ancestorTitles ?? []), a.title].join(' > ')),
  )
}

/** The names test/skipped.txt lists, each with its reason. */
function listed(path) {
  let text
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    fail(`could not read ${path}: ${e instanceof Error ? e.message : e}`)
  }
  const out = new Map()
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const at = line.lastIndexOf('  # ')
    if (at < 0) fail(`${path}:${i + 1}: say why it is skipped: "<test>  # <why>"`)
    out.set(line.slice(0, at).trim(), line.slice(at + 4).trim())
  }
  return out
}

const r = readReport(reportPath)
// A file that failed to load (syntax error, failing import, failing beforeAll) runs no test, so
// numFailedTests alone would say "0 failed" for a failed run: each such file counts as one.
const broken = r.testResults.filter(
  (f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'),
)
let failed = (r.numFailedTests ?? 0) + broken.length
if (failed === 0 && ((r.numFailedTestSuites ?? 0) > 0 || r.success === false))
  failed = Math.max(1, r.numFailedTestSuites ?? 0)
if (broken.length)
  console.log(`${broken.length} test files failed to run: ${broken.map((f) => f.name).join(', ')}`)

const skipped = skippedIn(r)
const want = listed(listPath)
const unexpected = skipped.filter((s) => !want.has(s))
const missing = [...want.keys()].filter((s) => !skipped.includes(s))
if (unexpected.length || missing.length) {
  // The skip list is part of the gate: a difference is one more failure.
  failed++
  for (const s of unexpected) console.log(`skipped but not in ${listPath}: ${s}`)
  for (const s of missing) console.log(`in ${listPath} but not skipped (ran, or gone): ${s}`)
}
console.log(`${r.numPassedTests} passed, ${failed} failed, ${skipped.length} skipped`)
process.exit(failed > 0 ? 1 : 0)
