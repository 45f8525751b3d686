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
