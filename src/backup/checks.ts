import type { ErrorKind } from '../core/errors.js'

/**
 * Why a backup is refused, as the error code a refusal carries: a forged or unsigned manifest
 * and every other finding exit 8; a key this store cannot find exits 7 (give the key file).
 */
export type BackupRefusal =
  | 'backup_manifest_forged'
  | 'backup_unsigned'
  | 'backup_key_unknown'
  | 'master_key_needed'
  | 'backup_invalid'

export interface BackupCheck {
  name: string
  ok: boolean
  detail: string
  /** Set on a failed check: the code the refusal carries. */
  code?: BackupRefusal
}

/** The checks of one verification, in order; the first failed one is the refusal. */
export class Checks {
  readonly list: BackupCheck[] = []
  pass(name: string, detail: string) {
    this.list.push({ name, ok: true, detail })
  }
  fail(name: string, detail: string, code: BackupRefusal = 'backup_invalid') {
    this.list.push({ name, ok: false, detail, code })
  }
  get failed() {
    return this.list.some((c) => !c.ok)
  }
}

/**
 * The exit kind of a refused backup: a key this store cannot find is configuration (7: give the
 * key file); everything wrong with the backup itself, forged or unsigned included, is a finding (8).
 */
export function refusalKind(code: BackupRefusal | null): ErrorKind {
  return code === 'backup_key_unknown' || code === 'master_key_needed' ? 'config' : 'findings'
}

const KEY_ID = /\bv1\.(k[0-9a-f]{8})\./g

/** The master key ids named by the vault envelopes in some text, sorted. */
export function envelopeKeyIds(texts: readonly string[]): string[] {
  const ids = new Set<string>()
  for (const t of texts) for (const m of t.matchAll(KEY_ID)) ids.add(m[1]!)
  return [...ids].sort()
}

/** The `key id` check: every sealed value of the copy under the key its manifest names. */
export function checkKeyIds(
  ids: readonly string[],
  manifestKeyId: string,
  checks: Checks,
): boolean {
  const others = ids.filter((k) => k !== manifestKeyId)
  if (others.length > 0) {
    checks.fail(
      'key id',
      `the copy's secrets are sealed under master key ${others.join(', ')}, not ${manifestKeyId} as its manifest says`,
    )
    return false
  }
  checks.pass('key id', `secrets sealed under ${manifestKeyId}, as the manifest says`)
  return true
}
