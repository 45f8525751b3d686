import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The published ISO 20022 pain.001.001.03 schema (a copy of ../shared/fixtures). */
export const PAIN001_XSD = fileURLToPath(
  new URL('../../fixtures/pain.001.001.03.xsd', import.meta.url),
)

/** xmllint (Debian's libxml2-utils), or a loud failure: a check that cannot run is no check. */
function xmllint(): string {
  for (const p of ['/usr/bin/xmllint', '/usr/local/bin/xmllint', '/opt/homebrew/bin/xmllint'])
    if (existsSync(p)) return p
  const which = spawnSync('sh', ['-c', 'command -v xmllint'], { encoding: 'utf8' })
  const found = which.stdout.trim()
  if (which.status === 0 && found) return found
  throw new Error(
    'xmllint is missing: every pain.001 the tests write is validated against fixtures/pain.001.001.03.xsd with it; install libxml2-utils (apt-get install libxml2-utils; .ci/run does)',
  )
}

/**
 * Validates pain.001 files against the XSD with `xmllint --noout --schema`; throws with
 * xmllint's own messages when one does not validate.
 */
export function validatePain001(files: readonly string[]): void {
  if (files.length === 0) return
  const r = spawnSync(xmllint(), ['--noout', '--schema', PAIN001_XSD, ...files], {
    encoding: 'utf8',
  })
  if (r.error) throw r.error
  if (r.status !== 0)
    throw new Error(
      `pain.001 does not validate against ${PAIN001_XSD} (xmllint exit ${r.status}):\n${r.stderr}`,
    )
}

/** The .xml files under $DSH_HOME/outbox, void/ included. */
export function outboxXmlFiles(home: string): string[] {
  const out: string[] = []
  const walk = (dir: string) => {
    if (!existsSync(dir)) return
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile() && e.name.endsWith('.xml')) out.push(p)
    }
  }
  walk(join(home, 'outbox'))
  return out.sort()
}

/**
 * Validates every pain.001 a test's DSH_HOME holds (useStoreEnv calls it before removing the
 * home, so every store test's bank files are checked); returns how many there were.
 */
export function validateOutbox(home: string): number {
  const files = outboxXmlFiles(home)
  validatePain001(files)
  return files.length
}
