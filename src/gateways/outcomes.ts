import { redactForAudit } from '../core/audit/redact.js'
import type {
  AttemptLog,
  FailureKind,
  GatewayCallResult,
  GatewayOutcome,
  GatewayRefs,
} from '../core/payments/gateway-port.js'
import type { TransportCode, TransportError } from './http.js'

/**
 * One row of a gateway's code table: what a code means for the money. The tables are data so
 * `dsh gateway explain <code>` can print them and a review can read every decision in one place.
 * A code that is in no table is `unknown`: never retried, never failed over (ORCHESTRATION.md).
 */
export interface CodeRule {
  status: 'succeeded' | 'pending' | 'failed'
  kind?: FailureKind
  /** Counts against the breaker: timeouts, 5xx, connection errors, throttling. Never customers. */
  gatewayFault?: boolean
  cancelled?: boolean
  /** What the code means and why it is classified so. */
  message: string
}

export type CodeTable = Readonly<Record<string, CodeRule>>

/** The outcome for a code that no table knows: it may have charged, so nothing automatic. */
export function unknownOutcome(
  code: string,
  message: string,
  refs: GatewayRefs = {},
): GatewayOutcome {
  return {
    status: 'failed',
    kind: 'unknown',
    gatewayFault: false,
    refs,
    code,
    message: `unrecognised gateway answer (${message}); classified as unknown: not retried, not failed over`,
  }
}

/** Classifies `code` with `table`; `message` is the gateway's own text when it gave one. */
export function outcomeFor(
  table: CodeTable,
  code: string,
  message: string | undefined,
  refs: GatewayRefs = {},
  amountMinor?: bigint,
): GatewayOutcome {
  const rule = table[code]
  if (!rule) return unknownOutcome(code, message ?? 'no message', refs)
  const text = message || rule.message
  if (rule.status === 'succeeded')
    return {
      status: 'succeeded',
      refs,
      code,
      message: text,
      ...(amountMinor === undefined ? {} : { amountMinor }),
    }
  if (rule.status === 'pending') return { status: 'pending', refs, code, message: text }
  return {
    status: 'failed',
    kind: rule.kind ?? 'unknown',
    gatewayFault: rule.gatewayFault === true,
    ...(rule.cancelled ? { cancelled: true } : {}),
    refs,
    code,
    message: text,
  }
}

/**
 * A query describes the payment, not the query call: when the query itself did not get through
 * (transport, throttling, auth, an unknown id), the payment's state is unknown, never
 * "not attempted" — reporting that would let the router fail over a payment that may exist.
 */
export function asQueryOutcome(o: GatewayOutcome): GatewayOutcome {
  if (o.status === 'failed' && o.kind === 'not_attempted') return { ...o, kind: 'unknown' }
  return o
}

/** Rule builders shared by every gateway code table (the codes.ts files). */
export const declined = (message: string, extra: Partial<CodeRule> = {}): CodeRule => ({
  status: 'failed',
  kind: 'declined',
  gatewayFault: false,
  message,
  ...extra,
})

export const notAttempted = (gatewayFault: boolean, message: string): CodeRule => ({
  status: 'failed',
  kind: 'not_attempted',
  gatewayFault,
  message,
})

export const unknownRule = (gatewayFault: boolean, message: string): CodeRule => ({
  status: 'failed',
  kind: 'unknown',
  gatewayFault,
  message,
})

/**
 * HTTP 500, 502, 503 and 504 without the gateway's own error body: the gateway (or a proxy in
 * front of it) may have run the request, so the outcome is unknown (a gateway fault); `what`
 * says what may exist and how it is resolved.
 */
export const serverFaults = (what: string): CodeTable =>
  Object.fromEntries(
    [500, 502, 503, 504].map((status) => [
      `http.${status}`,
      unknownRule(true, `HTTP ${status}: ${what}`),
    ]),
  )

/**
 * Transport failures. Before the request leaves, nothing can be charged (not_attempted); after it
 * was sent and no answer came, it may have been (unknown). A reset with no answer sits between
 * the two, so each gateway decides; a reset after the answer's headers is always unknown.
 */
export function transportTable(reset: 'not_attempted' | 'unknown', why: string): CodeTable {
  return {
    'transport.connect_refused': {
      status: 'failed',
      kind: 'not_attempted',
      gatewayFault: true,
      message: 'connection refused or host unreachable: the request never left; safe to fail over',
    },
    'transport.dns': {
      status: 'failed',
      kind: 'not_attempted',
      gatewayFault: true,
      message: 'the gateway host name did not resolve: nothing was sent',
    },
    'transport.connect_timeout': {
      status: 'failed',
      kind: 'not_attempted',
      gatewayFault: true,
      message: 'no connection within the connect timeout: nothing was sent',
    },
    'transport.tls': {
      status: 'failed',
      kind: 'not_attempted',
      gatewayFault: true,
      message: 'the TLS handshake failed (certificate): nothing was sent',
    },
    'transport.read_timeout': {
      status: 'failed',
      kind: 'unknown',
      gatewayFault: true,
      message: 'sent, but no answer within the read timeout: it may have charged; resolve by query',
    },
    'transport.reset': {
      status: 'failed',
      kind: reset,
      gatewayFault: true,
      message: `the connection dropped before any answer: ${why}`,
    },
    // The gateway had started to answer: it read the request, so never "not attempted".
    'transport.reset_after_headers': {
      status: 'failed',
      kind: 'unknown',
      gatewayFault: true,
      message: `the connection dropped after the answer's headers, before its body: ${why}`,
    },
    'transport.other': {
      status: 'failed',
      kind: 'unknown',
      gatewayFault: true,
      message: 'an unexpected transport error: it may have charged; resolve by query',
    },
  }
}

export const transportCode = (code: TransportCode) => `transport.${code}`

export function transportOutcome(table: CodeTable, err: TransportError, refs: GatewayRefs = {}) {
  return outcomeFor(table, transportCode(err.code), err.message, refs)
}

/**
 * The rule's own sentence with the wire's detail, for answers that carry no gateway text (a bare
 * HTTP status, a transport error): "what it means for the money (what happened)". An unknown code
 * keeps the detail alone.
 */
export function explainedOutcome(
  table: CodeTable,
  code: string,
  detail: string,
  refs: GatewayRefs = {},
): GatewayOutcome {
  const rule = table[code]
  return outcomeFor(table, code, rule ? `${rule.message} (${detail})` : detail, refs)
}

/** Parses JSON, or undefined when the text is not JSON (a proxy's HTML error page). */
export function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

export const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : undefined

/** What is stored on the attempt row: secrets removed (Password, tokens, keys, Authorization). */
export interface LoggedRequest {
  method: string
  url: string
  headers?: Record<string, string> | undefined
  body?: unknown
}

/** Callback URLs carry the branch's secret path token (Daraja signs nothing): never kept. */
function hidePathTokens(v: unknown): unknown {
  if (typeof v === 'string')
    return v.replace(/(\/callbacks\/[a-z-]+\/)[0-9a-f]{32}/g, '$1[redacted]')
  if (Array.isArray(v)) return v.map(hidePathTokens)
  if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) return v
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, hidePathTokens(x)]))
}

export function attemptLog(
  request: LoggedRequest,
  response: unknown,
  startedMs: number,
  endMs: number,
): AttemptLog {
  return {
    request: hidePathTokens(redactForAudit(request)),
    response: redactForAudit(response),
    latencyMs: Math.max(0, Math.round(endMs - startedMs)),
  }
}

export function result(outcome: GatewayOutcome, log: AttemptLog): GatewayCallResult {
  return { outcome, log }
}

/** Case-insensitive header lookup on the plain record the port hands to verifyCallback. */
export function header(
  headers: Readonly<Record<string, string | undefined>>,
  name: string,
): string | undefined {
  const want = name.toLowerCase()
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === want) return v
  return undefined
}
