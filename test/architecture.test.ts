import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

/**
 * Architecture rules that are checked, not remembered (STYLE.md, habit 3):
 * - src/core does no I/O and knows nothing of the CLI, SQL, HTTP, files or schedules;
 * - money in src/core never touches floats;
 * - migrations are frozen: they import kysely and each other, never application code.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CORE = join(ROOT, 'src', 'core')
const MIGRATIONS = join(ROOT, 'migrations')

// ---------------------------------------------------------------------------------------------
// scanner

/** Packages core must not import (any subpath too: 'kysely/helpers/sqlite' counts as kysely). */
const FORBIDDEN_PACKAGES = [
  'commander',
  'cli-table3',
  'kysely',
  'better-sqlite3',
  'pg',
  'undici',
  'csv-parse',
  'node-cron',
]
/** Node built-ins core must not import, with or without the `node:` prefix. */
const FORBIDDEN_BUILTINS = ['http', 'https', 'net', 'fs', 'fs/promises', 'child_process']

/** What a file may import, given its path and the specifier; a reason when it may not. */
type ImportRule = (file: string, specifier: string) => string | undefined

interface Offence {
  file: string
  line: number
  message: string
}

/**
 * Blanks out comments (keeping every newline, so offsets and line numbers are unchanged) with a
 * small tokenizer that understands strings, template literals with `${}` and regex literals.
 */
function stripComments(src: string): string {
  const out = src.split('')
  const n = src.length
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' '
  }
  /** Scans template text from j; returns where it stopped and whether it stopped at `${`. */
  const templateText = (start: number): { end: number; opened: boolean } => {
    let j = start
    while (j < n) {
      const ch = src[j]
      if (ch === '\\') j += 2
      else if (ch === '`') return { end: j + 1, opened: false }
      else if (ch === '$' && src[j + 1] === '{') return { end: j + 2, opened: true }
      else j++
    }
    return { end: n, opened: false }
  }
  const REGEX_AFTER_WORD = new Set([
    'return',
    'typeof',
    'case',
    'do',
    'else',
    'in',
    'of',
    'new',
    'delete',
    'void',
    'throw',
    'instanceof',
    'yield',
    'await',
  ])
  const templates: number[] = [] // brace depth at which each open `${` returns to template text
  let braces = 0
  let prev = '' // last significant token: a punctuator, or 'a' after a word / literal
  let prevWord = ''
  let i = 0
  while (i < n) {
    const c = src[i]!
    const next = src[i + 1]
    if (c === '/' && next === '/') {
      const end = src.indexOf('\n', i)
      const stop = end === -1 ? n : end
      blank(i, stop)
      i = stop
    } else if (c === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2)
      const stop = end === -1 ? n : end + 2
      blank(i, stop)
      i = stop
    } else if (c === '"' || c === "'") {
      let j = i + 1
      while (j < n && src[j] !== c && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1
      i = j + 1
      prev = 'a'
    } else if (c === '`') {
      const t = templateText(i + 1)
      if (t.opened) templates.push(braces++)
      i = t.end
      prev = t.opened ? '{' : 'a'
    } else if (c === '}' && templates.length > 0 && templates.at(-1) === braces - 1) {
      templates.pop()
      braces--
      const t = templateText(i + 1)
      if (t.opened) templates.push(braces++)
      i = t.end
      prev = t.opened ? '{' : 'a'
    } else if (c === '/') {
      const regexAllowed =
        prev === '' || '(,=:[!&|?{};+-*%<>~^'.includes(prev) || REGEX_AFTER_WORD.has(prevWord)
      if (regexAllowed) {
        let j = i + 1
        let inClass = false
        while (j < n && src[j] !== '\n') {
          const ch = src[j]
          if (ch === '\\') {
            j += 2
            continue
          }
          j++
          if (inClass) inClass = ch !== ']'
          else if (ch === '[') inClass = true
          else if (ch === '/') break
        }
        while (j < n && /[a-z]/i.test(src[j]!)) j++
        i = j
        prev = 'a'
        prevWord = ''
      } else {
        prev = '/'
        prevWord = ''
        i++
      }
    } else if (/[\w$]/.test(c)) {
      let j = i
      while (j < n && /[\w$]/.test(src[j]!)) j++
      prevWord = src.slice(i, j)
      prev = 'a'
      i = j
    } else {
      if (c === '{') braces++
      else if (c === '}') braces--
      if (!/\s/.test(c)) {
        prev = c
        prevWord = ''
      }
      i++
    }
  }
  return out.join('')
}

const lineAt = (text: string, index: number) => text.slice(0, index).split('\n').length

const NOT_AFTER = String.raw`(?<![\w$.])`
const IMPORT_PATTERNS: readonly RegExp[] = [
  // import x from 'm' / import type { a,\n b } from 'm' / export { x } from 'm' / export * from 'm'
  new RegExp(
    String.raw`${NOT_AFTER}(?:import|export)\s[^'"\`;()=]*?\bfrom\s*(['"])([^'"\n]+)\1`,
    'g',
  ),
  // import 'm' (side effects only)
  new RegExp(String.raw`${NOT_AFTER}import\s*(['"])([^'"\n]+)\1`, 'g'),
  // import('m'), require('m'), import x = require('m')
  new RegExp(String.raw`${NOT_AFTER}(?:import|require)\s*\(\s*(['"\`])([^'"\`\n]+)\1\s*\)`, 'g'),
]
/** import(expr) / require(expr) whose module cannot be read from the source. */
const COMPUTED_IMPORT = new RegExp(
  String.raw`${NOT_AFTER}(?:import|require)\s*\((?!\s*(['"\`])[^'"\`\n$]+\1\s*\))`,
  'g',
)

/** Every module a source text imports, with its line, comments ignored. */
function importsOf(source: string): { specifier: string; line: number }[] {
  const code = stripComments(source)
  const found: { specifier: string; line: number; index: number }[] = []
  for (const pattern of IMPORT_PATTERNS) {
    for (const m of code.matchAll(pattern)) {
      const specifier = m[2]!
      const index = m.index + m[0].lastIndexOf(specifier)
      found.push({ specifier, line: lineAt(code, index), index })
    }
  }
  for (const m of code.matchAll(COMPUTED_IMPORT)) {
    found.push({ specifier: '<computed>', line: lineAt(code, m.index), index: m.index })
  }
  return found.sort((a, b) => a.index - b.index).map(({ specifier, line }) => ({ specifier, line }))
}

/** Imports of `source` (a file at `file`) that `rule` refuses. */
function scanImports(file: string, source: string, rule: ImportRule): Offence[] {
  const offences: Offence[] = []
  for (const { specifier, line } of importsOf(source)) {
    const why =
      specifier === '<computed>'
        ? 'a dynamic import with a computed module name cannot be checked'
        : rule(file, specifier)
    if (why) offences.push({ file, line, message: `imports '${specifier}': ${why}` })
  }
  return offences
}

const FLOAT_PATTERNS: readonly { pattern: RegExp; name: string }[] = [
  { pattern: /\bNumber\s*\.\s*parseFloat\b/g, name: 'Number.parseFloat' },
  { pattern: /(?<![\w$.]|Number\s*\.\s*)parseFloat\b/g, name: 'parseFloat' },
  { pattern: /\.\s*toFixed\s*\(/g, name: '.toFixed(' },
  { pattern: /\bMath\s*\.\s*round\s*\(/g, name: 'Math.round(' },
]

/** Uses of float helpers in code (comments ignored: "never parseFloat" is good documentation). */
function scanFloats(file: string, source: string): Offence[] {
  const code = stripComments(source)
  const offences: Offence[] = []
  for (const { pattern, name } of FLOAT_PATTERNS) {
    for (const m of code.matchAll(pattern)) {
      offences.push({ file, line: lineAt(code, m.index), message: `uses ${name}` })
    }
  }
  return offences.sort((a, b) => a.line - b.line)
}

function packageName(specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!
}

const isPath = (specifier: string) =>
  specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:')

function within(dir: string, target: string): boolean {
  const rel = relative(dir, target)
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && !/^[a-z]:/i.test(rel))
}

/** The rule for src/core: no I/O, CLI, SQL, HTTP or scheduling, and nothing outside src/core. */
function coreRule(coreDir: string): ImportRule {
  return (file, specifier) => {
    if (isPath(specifier)) {
      if (specifier.startsWith('file:') || specifier.startsWith('/')) {
        return 'core imports only relative paths inside src/core'
      }
      const target = resolve(dirname(file), specifier)
      return within(coreDir, target) ? undefined : 'core must not import outside src/core'
    }
    const bare = specifier.replace(/^node:/, '')
    if (FORBIDDEN_BUILTINS.includes(bare)) {
      return 'core must not do I/O (files, network, processes)'
    }
    const pkg = packageName(specifier)
    if (pkg.startsWith('@inquirer/')) return 'core must not prompt'
    if (FORBIDDEN_PACKAGES.includes(pkg))
      return 'core must not depend on the CLI, SQL, HTTP or cron'
    return undefined
  }
}

/** The rule for migrations/*.ts: 'kysely' and sibling migration files only. */
function migrationRule(migrationsDir: string): ImportRule {
  return (file, specifier) => {
    if (specifier === 'kysely') return undefined
    if (specifier.startsWith('./') && !specifier.slice(2).includes('/')) {
      const target = resolve(dirname(file), specifier).replace(/\.js$/, '.ts')
      if (dirname(target) === migrationsDir && existsSync(target)) return undefined
      return 'not a migration file in migrations/'
    }
    return "migrations are frozen: import only 'kysely' and other migration files"
  }
}

function tsFiles(dir: string, recursive: boolean): string[] {
  return readdirSync(dir, { recursive })
    .map(String)
    .filter((f) => /\.[cm]?tsx?$/.test(f))
    .map((f) => join(dir, f))
    .sort()
}

const report = (offences: Offence[]) =>
  offences.map((o) => `  ${relative(ROOT, o.file)}:${o.line}: ${o.message}`).join('\n')

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
