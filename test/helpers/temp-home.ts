import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A fresh DSH_HOME in the temp dir, removed by the returned cleanup. */
export function tempHome(): { home: string; cleanup: () => void } {
  const home = mkdtempSync(join(tmpdir(), 'dsh-test-'))
  return { home, cleanup: () => rmSync(home, { recursive: true, force: true }) }
}

/** A vault envelope with one ciphertext byte flipped (a real change, not just base64 padding bits). */
export function tamperEnvelope(envelope: string): string {
  const parts = envelope.split('.')
  const bytes = Buffer.from(parts[4] ?? '', 'base64url')
  bytes[0] = (bytes[0] ?? 0) ^ 0xff
  parts[4] = bytes.toString('base64url')
  return parts.join('.')
}
