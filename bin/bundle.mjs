#!/usr/bin/env node
// Bundles the CLI and the daemon (one program: `dsh daemon` is a command) from the TypeScript
// sources into dist/bundle/, after `tsc` has type-checked them (`npm run build` runs both).
//
// - One entry, src/main.ts. Code splitting keeps commands/index.ts's lazy loading: every
//   `await import('./x.js')` becomes its own chunk, so `dsh --help` loads the entry and the
//   chunks it imports statically, and a command loads only what it needs.
// - better-sqlite3 (native) and pg (optional native pg-native) stay external: they are loaded
//   from node_modules as before.
// - Linked source maps (dist/bundle/*.js.map) point at the TypeScript; bin/dsh turns them on only
//   with --verbose, the flag that prints stacks, since reading them costs start-up time.
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from 'esbuild'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const OUT = join(ROOT, 'dist', 'bundle')

/** Kept out of the bundle: native code, or modules that look for optional native code. */
export const EXTERNAL = ['better-sqlite3', 'pg', 'pg-native']

rmSync(OUT, { recursive: true, force: true })
const result = await build({
  absWorkingDir: ROOT,
  // The backup's copy check runs on a worker thread (src/backup/copy-facts.ts opens
  // ./copy-facts-worker.js beside itself): an entry of its own, next to the chunks.
  entryPoints: {
    main: 'src/main.ts',
    'chunks/copy-facts-worker': 'src/backup/copy-facts-worker.ts',
  },
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  external: EXTERNAL,
  // Bundled CommonJS dependencies (commander, cli-table3, node-cron…) call require() for Node's
  // built-ins; an ES module has no require, so each output file gets one.
  banner: {
    js: "import { createRequire as __dshCreateRequire } from 'node:module'; const require = __dshCreateRequire(import.meta.url);",
  },
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
})

// Files read relative to a module's own location must still be found from the chunk the module
// landed in. src/daemon/dashboard.ts reads the dashboard's assets from the package's
// src/dashboard/assets/ (`../../../src/dashboard/assets/` from dist/src/daemon/ and from
// dist/bundle/chunks/): fail the build, not the daemon, if the chunk layout ever moves it.
for (const [file, o] of Object.entries(result.metafile.outputs)) {
  if (!Object.keys(o.inputs).includes('src/daemon/dashboard.ts')) continue
  const index = new URL('../../../src/dashboard/assets/index.html', pathToFileURL(join(ROOT, file)))
  if (!existsSync(index)) {
    throw new Error(`bundle: ${file} holds src/daemon/dashboard.ts but cannot reach ${index}`)
  }
}

// The same for the backup's worker: the chunk holding src/backup/copy-facts.ts must find
// copy-facts-worker.js beside it (else the check would run on the event loop).
for (const [file, o] of Object.entries(result.metafile.outputs)) {
  if (!Object.keys(o.inputs).includes('src/backup/copy-facts.ts')) continue
  const worker = new URL('./copy-facts-worker.js', pathToFileURL(join(ROOT, file)))
  if (!existsSync(worker)) {
    throw new Error(`bundle: ${file} holds src/backup/copy-facts.ts but cannot reach ${worker}`)
  }
}

// Which sources each output file holds: test/cli/bundle.test.ts checks from it that a command
// loads only its own chunks (`dsh --help` no store, no kysely).
writeFileSync(join(OUT, 'meta.json'), JSON.stringify(result.metafile))

if (process.env.DSH_BUNDLE_STATS) {
  const outputs = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith('.js'))
  for (const [file, o] of outputs) console.log(`${String(o.bytes).padStart(9)}  ${file}`)
}
