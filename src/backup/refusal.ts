import type { ErrorKind } from '../core/errors.js'
import type { BackupRefusal } from './verify.js'

/**
 * The exit kind of a refused backup: a key this store cannot find is configuration (7: give the
 * key file); everything wrong with the backup itself, forged or unsigned included, is a finding (8).
 */
export function refusalKind(code: BackupRefusal | null): ErrorKind {
  return code === 'backup_key_unknown' || code === 'master_key_needed' ? 'config' : 'findings'
}
