import type {
  AttemptLog,
  GatewayCallResult,
  GatewayOutcome,
  GatewayRefs,
} from '../core/payments/gateway-port.js'
import {
  type HttpClient,
  type HttpRequest,
  type HttpResponse,
  type TransportError,
  toTransportError,
} from './http.js'
import {
  asQueryOutcome,
  attemptLog,
  type CodeTable,
  type LoggedRequest,
  parseJson,
  transportOutcome,
} from './outcomes.js'

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

/** A body to send (`text`) and what the attempt log shows of it (`logged`, redacted later). */
export interface CallBody {
  text: string
  logged: unknown
  contentType: string
}

export const jsonBody = (body: unknown): CallBody => ({
  text: JSON.stringify(body),
  logged: body,
  contentType: 'application/json',
})

export const formBody = (form: URLSearchParams): CallBody => ({
  text: form.toString(),
  logged: Object.fromEntries(form),
  contentType: 'application/x-www-form-urlencoded',
})

/**
 * The one way an adapter calls its gateway: bound to the base URL, the fixed headers and the read
 * timeout; adds Content-Type and Idempotency-Key where given; timed and logged by timedRequest.
 */
export function gatewayCaller(
  http: HttpClient,
  base: string,
  headers: Record<string, string>,
  readTimeoutMs: number | undefined,
  describe?: (res: HttpResponse) => Record<string, unknown>,
) {
  return (
    method: 'GET' | 'POST',
    path: string,
    body?: CallBody,
    idempotencyKey?: string,
  ): Promise<TimedResult> => {
    const url = path.startsWith('http') ? path : `${base}${path}`
    const h: Record<string, string> = { ...headers }
    if (body) h['Content-Type'] = body.contentType
    if (idempotencyKey) h['Idempotency-Key'] = idempotencyKey
    return timedRequest(
      http,
      {
        method,
        url,
        headers: h,
        ...(body ? { body: body.text } : {}),
        ...(readTimeoutMs === undefined ? {} : { readTimeoutMs }),
      },
      { method, url, headers: h, body: body?.logged },
      describe,
    )
  }
}

/**
 * A call's result: a transport failure classified by the gateway's code table, else its answer
 * classified by the adapter; as a query's outcome (`query`) where a status poll asked.
 */
export function resultOf(
  r: TimedResult,
  codes: CodeTable,
  classify: (status: number, body: unknown, refs: GatewayRefs) => GatewayOutcome,
  refs: GatewayRefs = {},
  query = false,
): GatewayCallResult {
  const outcome = r.ok ? classify(r.status, r.body, refs) : transportOutcome(codes, r.err, refs)
  return { outcome: query ? asQueryOutcome(outcome) : outcome, log: r.log }
}
