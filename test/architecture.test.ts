import { readFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  coreRule,
  importsOf,
  migrationRule,
  ROOT,
  report,
  scanFloats,
  scanImports,
  tsFiles,
} from './helpers/imports.js'

/**
 * Architecture rules that are checked, not remembered (STYLE.md, habit 3):
 * - src/core does no I/O and knows nothing of the CLI, SQL, HTTP, files or schedules;
 * - money in src/core never touches floats;
 * - migrations are frozen: they import kysely and each other, never application code.
 */

const CORE = join(ROOT, 'src', 'core')
const MIGRATIONS = join(ROOT, 'migrations')

// ---------------------------------------------------------------------------------------------
// scanner

// ---------------------------------------------------------------------------------------------
// the scanner catches what it must (so the real checks cannot pass by accident)

describe('the scanner itself', () => {
  const fakeCore = join(CORE, 'money', 'fake.ts')
  const rule = coreRule(CORE)

  it('finds every forbidden import form, on the right line', () => {
    const snippet = [
      "import { Command } from 'commander'", // 1
      'import {', // 2
      '  select,', // 3
      "} from '@inquirer/prompts'", // 4
      "import type { Kysely } from 'kysely'", // 5
      "import Database from 'better-sqlite3'", // 6
      "import * as fs from 'fs'", // 7
      "import { readFile } from 'node:fs/promises'", // 8
      "export { request } from 'undici'", // 9
      "export * from '../../store/branches-store.js'", // 10
      "import 'node:http'", // 11
      "const cron = await import('node-cron')", // 12
      "const cp = require('child_process')", // 13
      "import { sql } from 'kysely/helpers/sqlite'", // 14
      'const m = await import(name)', // 15
      "import { a } from '../errors.js'", // 16: outside src/core/money but inside src/core: fine
      "import { b } from './money.js'", // 17: fine
      "import { c } from 'node:crypto'", // 18: fine
      "import { parse } from 'csv-parse/sync'", // 19
      "import net from 'net'", // 20
      "import Table from 'cli-table3'", // 21
      "import pg from 'pg'", // 22
      "import https from 'node:https'", // 23
      "import { App } from '../../app.js'", // 24
    ].join('\n')
    const offences = scanImports(fakeCore, snippet, rule)
    expect(offences.map((o) => o.line)).toEqual([
      1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 19, 20, 21, 22, 23, 24,
    ])
    expect(offences.find((o) => o.line === 10)?.message).toContain('outside src/core')
    expect(offences.find((o) => o.line === 15)?.message).toContain('computed')
  })

  it('ignores comments, but not code after tricky strings, templates and regexes', () => {
    const D = '$' // a template placeholder inside the snippet
    const snippet = [
      "// import fs from 'node:fs'",
      "/* import { Command } from 'commander'",
      "   const x = parseFloat('1') */",
      "const re = /['\"`]\\/\\/ /g // import pg from 'pg'",
      `const t = \`a ${D}{\`b ${D}{1}\`} // not a comment\``,
      "const u = 'it\\'s // not a comment either'",
      "const ratio = a / b / c; import http from 'node:http'",
      '/** parseFloat and .toFixed( are banned */ const v = Math.round(1.5)',
    ].join('\n')
    expect(importsOf(snippet)).toEqual([{ specifier: 'node:http', line: 7 }])
    expect(scanFloats('x.ts', snippet)).toEqual([
      { file: 'x.ts', line: 8, message: 'uses Math.round(' },
    ])
  })

  it('finds float helpers', () => {
    const snippet = [
      'const a = parseFloat(s)',
      'const b = Number.parseFloat(s)',
      'const c = (x * 100).toFixed(2)',
      'const d = Math.round(x * 100)',
      'const e = myparseFloat(s) + obj.parseFloat',
    ].join('\n')
    expect(scanFloats('x.ts', snippet).map((o) => `${o.line} ${o.message}`)).toEqual([
      '1 uses parseFloat',
      '2 uses Number.parseFloat',
      '3 uses .toFixed(',
      '4 uses Math.round(',
    ])
  })

  it('allows only kysely and sibling migrations in a migration', () => {
    const file = join(MIGRATIONS, 'index.ts')
    const offences = scanImports(
      file,
      [
        "import type { Kysely } from 'kysely'",
        "import { money } from '../src/core/money/index.js'",
        "import * as nope from './does_not_exist.js'",
        "import { sql } from 'kysely/helpers/postgres'",
        "import { readFileSync } from 'node:fs'",
      ].join('\n'),
      migrationRule(MIGRATIONS),
    )
    expect(offences.map((o) => o.line)).toEqual([2, 3, 4, 5])
  })
})

// ---------------------------------------------------------------------------------------------
// the rules

describe('architecture', () => {
  const coreFiles = tsFiles(CORE, true)
  const migrationFiles = tsFiles(MIGRATIONS, false)

  it('finds the source files it is meant to check', () => {
    expect(coreFiles).toContain(join(CORE, 'money', 'parse.ts'))
    expect(coreFiles).toContain(join(CORE, 'errors.ts'))
    expect(migrationFiles).toContain(join(MIGRATIONS, 'index.ts'))
    expect(migrationFiles.length).toBeGreaterThan(1)
  })

  it('src/core imports no I/O, CLI, SQL, HTTP or cron module and nothing outside src/core', () => {
    const rule = coreRule(CORE)
    const offences = coreFiles.flatMap((f) => scanImports(f, readFileSync(f, 'utf8'), rule))
    expect(offences, `forbidden imports in src/core:\n${report(offences)}`).toEqual([])
  })

  it('src/core never uses parseFloat, .toFixed(, Math.round( or Number.parseFloat', () => {
    const offences = coreFiles.flatMap((f) => scanFloats(f, readFileSync(f, 'utf8')))
    expect(offences, `float helpers in src/core (money is bigint):\n${report(offences)}`).toEqual(
      [],
    )
  })

  it("migrations import only 'kysely' and each other", () => {
    const rule = migrationRule(MIGRATIONS)
    const offences = migrationFiles.flatMap((f) => scanImports(f, readFileSync(f, 'utf8'), rule))
    expect(offences, `forbidden imports in migrations/:\n${report(offences)}`).toEqual([])
  })

  it('migrations/index.ts lists every migration file', () => {
    const index = join(MIGRATIONS, 'index.ts')
    const imported = new Set(
      importsOf(readFileSync(index, 'utf8'))
        .filter((i) => i.specifier.startsWith('./'))
        .map((i) => resolve(MIGRATIONS, i.specifier).replace(/\.js$/, '.ts')),
    )
    const missing = migrationFiles.filter((f) => f !== index && !imported.has(f))
    expect(
      missing.map((f) => relative(ROOT, f)),
      'migration files that migrations/index.ts does not import (they would never run)',
    ).toEqual([])
  })
})
