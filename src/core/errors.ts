/**
 * The one error type of dsh. `kind` decides the exit code (CLI) and the HTTP status (daemon);
 * `code` is a stable machine-readable name; `hint` tells the user how to fix it.
 */
export type ErrorKind =
  | 'internal'
  | 'usage'
  | 'validation'
  | 'not_found'
  | 'conflict'
  | 'unavailable'
  | 'config'
  | 'findings'
  | 'interrupted'

export interface DshErrorOptions {
  hint?: string | undefined
  cause?: unknown
  details?: Record<string, unknown>
}

export class DshError extends Error {
  readonly kind: ErrorKind
  readonly code: string
  readonly hint: string | undefined
  readonly details: Record<string, unknown> | undefined

  constructor(kind: ErrorKind, code: string, message: string, options: DshErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'DshError'
    this.kind = kind
    this.code = code
    this.hint = options.hint
    this.details = options.details
  }
}

export const usageError = (code: string, message: string, hint?: string) =>
  new DshError('usage', code, message, { hint })
export const validationError = (code: string, message: string, hint?: string) =>
  new DshError('validation', code, message, { hint })
export const notFound = (code: string, message: string, hint?: string) =>
  new DshError('not_found', code, message, { hint })
export const conflict = (code: string, message: string, hint?: string) =>
  new DshError('conflict', code, message, { hint })
export const configError = (code: string, message: string, hint?: string, cause?: unknown) =>
  new DshError('config', code, message, { hint, cause })

/**
 * An error about named request fields. The message names the fields as the request does
 * (`orderId`); `details.fields` lists them so a front door can show its own names (the CLI's flags).
 */
export const fieldError = (
  kind: 'usage' | 'validation',
  code: string,
  fields: readonly string[],
  message: string,
  hint?: string,
) => new DshError(kind, code, message, { hint, details: { fields: [...fields] } })

export const isDshError = (e: unknown): e is DshError => e instanceof DshError
