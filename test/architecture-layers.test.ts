import { readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, dirname, join, relative, resolve, sep } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  type ImportRule,
  isPath,
  type Offence,
  packageName,
  ROOT,
  report,
  scanImports,
  stripComments,
  tsFiles,
} from './helpers/imports.js'

/**
 * The rules of direction (STYLE.md Part 3, README "Where things are"): commands and the daemon →
 * capabilities → core; a capability's store is used only inside its folder; kysely query builders
 * only in `*-store.ts` files; core imports nothing with I/O (test/architecture.test.ts).
 */

const SRC = join(ROOT, 'src')
const COMMANDS = join(ROOT, 'commands')
/** Folders of src/ that are not capabilities: the two front doors' own parts, core and plumbing. */
const NOT_CAPABILITIES = new Set(['core', 'store', 'cli', 'daemon'])

const capabilityDirs = () =>
  readdirSync(SRC)
    .filter((d) => statSync(join(SRC, d)).isDirectory() && !NOT_CAPABILITIES.has(d))
    .map((d) => join(SRC, d))

/** Which top-level part of the repository a path is in: `src/<folder>`, `commands`, … */
function area(path: string): string {
  const rel = relative(ROOT, path).split(sep)
  return rel[0] === 'src' && rel.length > 2 ? `src/${rel[1]}` : rel[0]!
}

const target = (file: string, specifier: string) =>
  resolve(dirname(file), specifier).replace(/\.js$/, '.ts')

const TERMINAL_PACKAGES = ['commander', 'cli-table3']

/** Capabilities never know the terminal or the daemon. */
const capabilityRule: ImportRule = (file, specifier) => {
  if (!isPath(specifier)) {
    const pkg = packageName(specifier)
    if (TERMINAL_PACKAGES.includes(pkg) || pkg.startsWith('@inquirer/'))
      return 'a capability must not know the terminal: take Ctx (ask, warn) instead'
    return undefined
  }
  const to = area(target(file, specifier))
  if (to === 'src/cli' || to === 'commands')
    return 'a capability must not import the CLI: the command maps flags to a request'
  if (to === 'src/daemon')
    return 'a capability must not import the daemon: job types live in src/context.ts'
  return undefined
}

/** Commands and src/cli reach the store only through capabilities. */
const cliRule: ImportRule = (file, specifier) => {
  if (!isPath(specifier))
    return packageName(specifier) === 'kysely'
      ? 'the CLI must not build SQL: call a capability'
      : undefined
  if (basename(target(file, specifier)).endsWith('-store.ts'))
    return "the CLI must not import a store: call the capability's service"
  return undefined
}

/** The daemon is a front door like the CLI, never importing it. */
const daemonRule: ImportRule = (file, specifier) => {
  if (!isPath(specifier))
    return packageName(specifier) === 'commander'
      ? 'the daemon must not import commander'
      : undefined
  const to = area(target(file, specifier))
  if (to === 'src/cli' || to === 'commands') return 'the daemon must not import the CLI'
  return undefined
}

/** src/store is plumbing: it imports core (types), the migrations and itself, never a capability. */
const storeRule: ImportRule = (file, specifier) => {
  if (!isPath(specifier)) return undefined
  const to = area(target(file, specifier))
  return to === 'src/store' || to === 'src/core' || to === 'migrations'
    ? undefined
    : `src/store is plumbing and must not import ${to}`
}

/** A `*-store.ts` is its capability's own: other folders use the capability's services. */
const storeOwnerRule: ImportRule = (file, specifier) => {
  if (!isPath(specifier)) return undefined
  const to = target(file, specifier)
  if (!basename(to).endsWith('-store.ts')) return undefined
  return dirname(to) === dirname(file)
    ? undefined
    : `${relative(ROOT, to)} belongs to ${area(to)}: use that capability's services`
}

const QUERY_BUILDERS: readonly { pattern: RegExp; name: string }[] = [
  { pattern: /\.\s*selectFrom\s*\(/g, name: 'selectFrom' },
  { pattern: /\.\s*insertInto\s*\(/g, name: 'insertInto' },
  { pattern: /\.\s*updateTable\s*\(/g, name: 'updateTable' },
  { pattern: /\.\s*deleteFrom\s*\(/g, name: 'deleteFrom' },
  { pattern: /\.\s*replaceInto\s*\(/g, name: 'replaceInto' },
  { pattern: /\.\s*mergeInto\s*\(/g, name: 'mergeInto' },
  { pattern: /(?<![\w$.])sql\s*(`|\.\s*(raw|ref|table|id|lit|join)\s*\(|<)/g, name: 'sql`…`' },
]

/** Query builders used outside a `*-store.ts` file. */
function scanQueries(file: string, source: string): Offence[] {
  const code = stripComments(source)
  const offences: Offence[] = []
  for (const { pattern, name } of QUERY_BUILDERS) {
    for (const m of code.matchAll(pattern)) {
      offences.push({
        file,
        line: code.slice(0, m.index).split('\n').length,
        message: `builds a query (${name}) outside a *-store.ts file`,
      })
    }
  }
  return offences.sort((a, b) => a.line - b.line)
}

const check = (files: string[], rule: ImportRule) =>
  files.flatMap((f) => scanImports(f, readFileSync(f, 'utf8'), rule))

// ---------------------------------------------------------------------------------------------
// each rule refuses a planted violation (so the real checks cannot pass by accident)

describe('the layer rules catch planted violations', () => {
  const inCapability = join(SRC, 'payments', 'planted.ts')
  const inCommands = join(COMMANDS, 'planted.ts')
  const inCli = join(SRC, 'cli', 'planted.ts')
  const inDaemon = join(SRC, 'daemon', 'planted.ts')
  const inStore = join(SRC, 'store', 'planted.ts')
  const lines = (file: string, rule: ImportRule, snippet: string[]) =>
    scanImports(file, snippet.join('\n'), rule).map((o) => o.line)

  it('capabilities: no commander, @inquirer, cli-table3, src/cli, commands or src/daemon', () => {
    expect(
      lines(inCapability, capabilityRule, [
        "import { Command } from 'commander'",
        "import { input } from '@inquirer/prompts'",
        "import Table from 'cli-table3'",
        "import { createOutput } from '../cli/output.js'",
        "import type { DaemonContext } from '../daemon/context.js'",
        "const { payCommand } = await import('../../commands/pay.js')",
        "import { audit } from '../audit/audit.js'", // fine: another capability's service
        "import type { Ctx } from '../context.js'", // fine
        "import { parseAmount } from '../core/money/parse.js'", // fine
      ]),
    ).toEqual([1, 2, 3, 4, 5, 6])
  })

  it('commands and src/cli: no kysely and no *-store.ts', () => {
    const snippet = [
      "import type { Kysely } from 'kysely'",
      "import { sql } from 'kysely/helpers/sqlite'",
      "import { findPayment } from '../src/payments/payments-store.js'",
      "import { pay } from '../src/payments/pay.js'", // fine
      "import { openStore } from '../src/store/connect.js'", // fine: plumbing, not a store
    ]
    expect(lines(inCommands, cliRule, snippet)).toEqual([1, 2, 3])
    expect(
      lines(inCli, cliRule, ["import { listEventsAfter } from '../payments/events-store.js'"]),
    ).toEqual([1])
  })

  it('src/daemon: no commander and no src/cli', () => {
    expect(
      lines(inDaemon, daemonRule, [
        "import { Command } from 'commander'",
        "import { createOutput } from '../cli/output.js'",
        "import { pay } from '../payments/pay.js'", // fine
      ]),
    ).toEqual([1, 2])
  })

  it('src/store: no capability', () => {
    expect(
      lines(inStore, storeRule, [
        "import { audit } from '../audit/audit.js'",
        "import type { StoredAuditRow } from '../core/audit/chain.js'", // fine
        "import { dialectOf } from './connect.js'", // fine
      ]),
    ).toEqual([1])
  })

  it('a store only from its own folder', () => {
    expect(
      lines(inCapability, storeOwnerRule, [
        "import { findBranchByCode } from '../tenants/branches-store.js'",
        "import { findPayment } from './payments-store.js'", // fine: its own
        "import { requireBranch } from '../tenants/branches.js'", // fine: a service
      ]),
    ).toEqual([1])
  })

  it('query builders outside a store file', () => {
    const snippet = [
      "const a = await db.selectFrom('payments').selectAll().execute()",
      "await trx\n  .insertInto('x')",
      "await db.updateTable('x').set({}).execute()",
      "await db.deleteFrom('x').execute()",
      'await sql`select 1`.execute(db)',
      "const r = sql.raw('x')",
      '// db.selectFrom("x") in a comment is fine',
      'const selectFromList = 1', // fine
    ].join('\n')
    expect(scanQueries('x.ts', snippet).map((o) => o.line)).toEqual([1, 3, 4, 5, 6, 7])
  })
})

// ---------------------------------------------------------------------------------------------
// the rules

describe('layers', () => {
  const capabilityFiles = capabilityDirs().flatMap((d) => tsFiles(d, true))
  const cliFiles = [...tsFiles(COMMANDS, true), ...tsFiles(join(SRC, 'cli'), true)]
  const daemonFiles = tsFiles(join(SRC, 'daemon'), true)
  const storeFiles = tsFiles(join(SRC, 'store'), true)
  const srcFiles = tsFiles(SRC, true)

  it('finds the files it is meant to check', () => {
    expect(capabilityDirs().map((d) => basename(d))).toEqual(
      expect.arrayContaining(['payments', 'tenants', 'callbacks', 'settlement', 'audit']),
    )
    expect(capabilityFiles).toContain(join(SRC, 'payments', 'pay.ts'))
    expect(cliFiles).toContain(join(COMMANDS, 'pay.ts'))
    expect(daemonFiles).toContain(join(SRC, 'daemon', 'server.ts'))
    expect(storeFiles).toContain(join(SRC, 'store', 'schema.ts'))
  })

  it('capabilities never import commander, @inquirer, cli-table3, the CLI or the daemon', () => {
    const offences = check(capabilityFiles, capabilityRule)
    expect(offences, `capabilities reaching a front door:\n${report(offences)}`).toEqual([])
  })

  it('commands and src/cli never import kysely or a *-store.ts', () => {
    const offences = check(cliFiles, cliRule)
    expect(offences, `the CLI reaching the store:\n${report(offences)}`).toEqual([])
  })

  it('src/daemon never imports commander or the CLI', () => {
    const offences = check(daemonFiles, daemonRule)
    expect(offences, `the daemon importing the CLI:\n${report(offences)}`).toEqual([])
  })

  it('src/store imports no capability', () => {
    const offences = check(storeFiles, storeRule)
    expect(offences, `src/store importing a capability:\n${report(offences)}`).toEqual([])
  })

  it('a *-store.ts is imported only from its own folder', () => {
    const offences = check([...srcFiles, ...cliFiles], storeOwnerRule)
    expect(offences, `stores used outside their capability:\n${report(offences)}`).toEqual([])
  })

  it('kysely query builders appear only in *-store.ts files (and the store plumbing)', () => {
    const files = [...srcFiles, ...cliFiles].filter(
      (f) => !f.endsWith('-store.ts') && area(f) !== 'src/store',
    )
    const offences = files.flatMap((f) => scanQueries(f, readFileSync(f, 'utf8')))
    expect(offences, `queries outside a store file:\n${report(offences)}`).toEqual([])
  })

  it('src/services no longer exists', () => {
    expect(() => statSync(join(SRC, 'services'))).toThrow()
  })
})
