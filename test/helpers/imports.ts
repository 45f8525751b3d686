import { existsSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** Packages core must not import (any subpath too: 'kysely/helpers/sqlite' counts as kysely). */
export const FORBIDDEN_PACKAGES = [
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
export const FORBIDDEN_BUILTINS = ['http', 'https', 'net', 'fs', 'fs/promises', 'child_process']

/** What a file may import, given its path and the specifier; a reason when it may not. */
export type ImportRule = (file: string, specifier: string) => string | undefined

export interface Offence {
  file: string
  line: number
  message: string
}

/**
 * Blanks out comments (keeping every newline, so offsets and line numbers are unchanged) with a
 * small tokenizer that understands strings, template literals with `${}` and regex literals.
 */
export function stripComments(src: string): string {
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

export const lineAt = (text: string, index: number) => text.slice(0, index).split('\n').length

export const NOT_AFTER = String.raw`(?<![\w$.])`
export const IMPORT_PATTERNS: readonly RegExp[] = [
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
export const COMPUTED_IMPORT = new RegExp(
  String.raw`${NOT_AFTER}(?:import|require)\s*\((?!\s*(['"\`])[^'"\`\n$]+\1\s*\))`,
  'g',
)

/** Every module a source text imports, with its line, comments ignored. */
export function importsOf(source: string): { specifier: string; line: number }[] {
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
export function scanImports(file: string, source: string, rule: ImportRule): Offence[] {
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

export const FLOAT_PATTERNS: readonly { pattern: RegExp; name: string }[] = [
  { pattern: /\bNumber\s*\.\s*parseFloat\b/g, name: 'Number.parseFloat' },
  { pattern: /(?<![\w$.]|Number\s*\.\s*)parseFloat\b/g, name: 'parseFloat' },
  { pattern: /\.\s*toFixed\s*\(/g, name: '.toFixed(' },
  { pattern: /\bMath\s*\.\s*round\s*\(/g, name: 'Math.round(' },
]

/** Uses of float helpers in code (comments ignored: "never parseFloat" is good documentation). */
export function scanFloats(file: string, source: string): Offence[] {
  const code = stripComments(source)
  const offences: Offence[] = []
  for (const { pattern, name } of FLOAT_PATTERNS) {
    for (const m of code.matchAll(pattern)) {
      offences.push({ file, line: lineAt(code, m.index), message: `uses ${name}` })
    }
  }
  return offences.sort((a, b) => a.line - b.line)
}

export function packageName(specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!
}

export const isPath = (specifier: string) =>
  specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:')

export function within(dir: string, target: string): boolean {
  const rel = relative(dir, target)
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && !/^[a-z]:/i.test(rel))
}

/** The rule for src/core: no I/O, CLI, SQL, HTTP or scheduling, and nothing outside src/core. */
export function coreRule(coreDir: string): ImportRule {
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
export function migrationRule(migrationsDir: string): ImportRule {
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

export function tsFiles(dir: string, recursive: boolean): string[] {
  return readdirSync(dir, { recursive })
    .map(String)
    .filter((f) => /\.[cm]?tsx?$/.test(f))
    .map((f) => join(dir, f))
    .sort()
}

export const report = (offences: Offence[]) =>
  offences.map((o) => `  ${relative(ROOT, o.file)}:${o.line}: ${o.message}`).join('\n')
