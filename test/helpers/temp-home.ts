import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A fresh DSH_HOME in the temp dir, removed by the returned cleanup. */
export function tempHome(): { home: string; cleanup: () => void } {
  const home = mkdtempSync(join(tmpdir(), 'dsh-test-'))
  return { home, cleanup: () => rmSync(home, { recursive: true, force: true }) }
}
