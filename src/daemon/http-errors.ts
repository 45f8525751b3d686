import { clipEchoes } from '../core/clip.js'
import { DshError, type ErrorKind } from '../core/errors.js'
import { maskUrlsIn } from '../core/url-mask.js'

/** An HTTP refusal that is not a domain error: no or bad token, wrong role, body too large… */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

/** Config errors that mean "cannot serve right now" rather than "this is set up wrong". */
const CONFIG_UNAVAILABLE = new Set(['store_unreachable', 'store_missing', 'store_not_migrated'])

/** The one place a DshError kind becomes an HTTP status (the CLI's twin is src/core/exit-codes.ts). */
const STATUS: Readonly<Record<ErrorKind, number>> = {
  usage: 400,
  validation: 422,
  not_found: 404,
  conflict: 409,
  unavailable: 503,
  config: 500,
  findings: 422,
  interrupted: 503,
  internal: 500,
}

export function httpStatusOf(err: DshError): number {
  if (err.kind === 'config' && CONFIG_UNAVAILABLE.has(err.code)) return 503
  return STATUS[err.kind]
}

export interface ErrorReply {
  status: number
  headers: Record<string, string>
  body: { error: { code: string; message: string; hint?: string } }
}

/** The answer to any error: domain errors keep their code and hint; anything else is a 500. */
export function errorReply(err: unknown): ErrorReply {
  if (err instanceof HttpError)
    return {
      status: err.status,
      headers: err.headers,
      body: { error: { code: err.code, message: clipEchoes(maskUrlsIn(err.message)) } },
    }
  if (err instanceof DshError) {
    const error: ErrorReply['body']['error'] = {
      code: err.code,
      message: clipEchoes(maskUrlsIn(err.message)),
    }
    if (err.hint) error.hint = clipEchoes(err.hint)
    return { status: httpStatusOf(err), headers: {}, body: { error } }
  }
  return {
    status: 500,
    headers: {},
    body: { error: { code: 'internal_error', message: 'internal error; see the daemon log' } },
  }
}
