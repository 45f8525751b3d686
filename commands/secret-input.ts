import type { App } from '../src/app.js'
import { FileTooLargeError, readLimited } from '../src/cli/read-limited.js'
import { usageError, validationError } from '../src/core/errors.js'
import type { FieldSpec } from '../src/core/gateways/fields.js'

/**
 * Collects field values from flags. A secret may come from `--x-file <path>` (`-` = standard
 * input) so it stays out of shell history and process listings; given directly it still works,
 * with a warning.
 */
export function collectFieldValues(
  app: App,
  fields: readonly FieldSpec[],
  opts: Record<string, unknown>,
): Record<string, string> {
  const values: Record<string, string> = {}
  let stdinUsed: string | undefined
  for (const f of fields) {
    const direct = opts[f.name]
    const fileKey = `${f.name}File`
    const file = opts[fileKey]
    if (typeof direct === 'string' && typeof file === 'string') {
      throw usageError('duplicate_secret', `give --${f.flag} or --${f.flag}-file, not both`)
    }
    if (typeof file === 'string') {
      if (file === '-') {
        if (stdinUsed)
          throw usageError(
            'stdin_twice',
            `standard input can feed one secret only (already --${stdinUsed}-file -)`,
          )
        stdinUsed = f.flag
      }
      values[f.name] = readSecretFile(file === '-' ? 0 : file, f)
    } else if (typeof direct === 'string') {
      if (f.kind === 'secret') {
        app.out.warn(
          `--${f.flag} was given on the command line, where shell history and process listings can see it; prefer --${f.flag}-file <path> (or - for standard input)`,
        )
      }
      values[f.name] = direct
    }
  }
  return values
}

function readSecretFile(source: string | 0, f: FieldSpec): string {
  let text: string
  try {
    text = readLimited(source)
  } catch (err) {
    if (err instanceof FileTooLargeError)
      throw validationError(
        'secret_file_too_large',
        `--${f.flag}-file ${source === 0 ? '-' : source} is ${err.message}; a secret is much smaller`,
        'check the path: it should name a file holding just the secret',
      )
    throw validationError(
      'secret_file_unreadable',
      `cannot read --${f.flag}-file ${source === 0 ? '-' : source}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      'check the path and its permissions',
    )
  }
  // One trailing newline is what `echo` and editors add; it is not part of the secret.
  return text.replace(/\r?\n$/, '')
}
