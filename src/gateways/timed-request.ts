import type { AttemptLog } from '../core/payments/gateway-port.js'
import {
  type HttpClient,
  type HttpRequest,
  type HttpResponse,
  type TransportError,
  toTransportError,
} from './http.js'
import { attemptLog, type LoggedRequest, parseJson } from './outcomes.js'

export type TimedResult =
  | { ok: true; res: HttpResponse; status: number; body: unknown; log: AttemptLog }
  | { ok: false; err: TransportError; log: AttemptLog }

/**
 * One gateway HTTP call, timed and logged (secrets redacted), that never throws: a transport
 * failure comes back as a typed TransportError so the caller can classify it.
 * `describe` adds fields to the logged response (e.g. Stripe's idempotent replay flag).
 */
export async function timedRequest(
  http: HttpClient,
  req: HttpRequest,
  logged: LoggedRequest,
  describe: (res: HttpResponse) => Record<string, unknown> = () => ({}),
): Promise<TimedResult> {
  const started = performance.now()
  try {
    const res = await http.request(req)
    const body = parseJson(res.text)
    const log = attemptLog(
      logged,
      { status: res.status, ...describe(res), body: body ?? res.text.slice(0, 2000) },
      started,
      performance.now(),
    )
    return { ok: true, res, status: res.status, body, log }
  } catch (e) {
    const err = toTransportError(e)
    return {
      ok: false,
      err,
      log: attemptLog(
        logged,
        { error: err.code, message: err.message },
        started,
        performance.now(),
      ),
    }
  }
}
