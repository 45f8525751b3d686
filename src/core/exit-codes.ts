import type { ErrorKind } from './errors.js'

/** PRODUCT.md's exit codes; the only place a kind becomes a number. */
export const EXIT_CODES: Readonly<Record<ErrorKind | 'ok', number>> = {
  ok: 0,
  internal: 1,
  usage: 2,
  validation: 3,
  not_found: 4,
  conflict: 5,
  unavailable: 6,
  config: 7,
  findings: 8,
  interrupted: 130,
}

/** When several problems apply, the most basic wins: usage before invalid input before not found before conflict. */
export const KIND_PRECEDENCE: readonly ErrorKind[] = [
  'usage',
  'validation',
  'not_found',
  'conflict',
  'config',
  'unavailable',
  'findings',
  'internal',
]
