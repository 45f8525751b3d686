import { Agent, type Dispatcher, EnvHttpProxyAgent, request } from 'undici'

/**
 * What went wrong on the wire, and so what it means for the money:
 * - connect_refused / dns / connect_timeout / tls: the request never left this machine;
 * - reset: the connection dropped before any answer (the request may have been read);
 * - reset_after_headers: the answer's status and headers came, then the connection dropped
 *   before its body (the request was read, and may have run);
 * - read_timeout: the request was sent and no answer came in time;
 * - other: anything else undici reports.
 */
export type TransportCode =
  | 'connect_refused'
  | 'dns'
  | 'connect_timeout'
  | 'tls'
  | 'reset'
  | 'reset_after_headers'
  | 'read_timeout'
  | 'other'

export class TransportError extends Error {
  readonly code: TransportCode
  constructor(code: TransportCode, message: string, cause: unknown) {
    super(message, { cause })
    this.name = 'TransportError'
    this.code = code
  }
}

export interface HttpRequest {
  method: 'GET' | 'POST'
  url: string
  headers?: Record<string, string>
  body?: string
  /** Overrides the client's read timeout for this call. */
  readTimeoutMs?: number
}

export interface HttpResponse {
  status: number
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>
  text: string
}

/** The one way adapters talk HTTP: keep-alive, bounded connect and read times, typed failures. */
export interface HttpClient {
  /** Resolves with any HTTP status; rejects only with a TransportError. */
  request(req: HttpRequest): Promise<HttpResponse>
  close(): Promise<void>
}

export interface HttpClientOptions {
  /** TCP + TLS connect budget (default 5 s). */
  connectTimeoutMs?: number
  /** Budget for the response headers and between body chunks after sending (default 30 s). */
  readTimeoutMs?: number
  /** How long an idle pooled connection is kept (default 10 s). */
  keepAliveTimeoutMs?: number
  /** Outbound proxy (CLI.md 16); given explicitly so this module never reads the environment. */
  proxy?: { httpProxy?: string; httpsProxy?: string; noProxy?: string }
}

const SYSTEM_CODES: Readonly<Record<string, TransportCode>> = {
  ECONNREFUSED: 'connect_refused',
  EHOSTUNREACH: 'connect_refused',
  ENETUNREACH: 'connect_refused',
  EADDRNOTAVAIL: 'connect_refused',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  UND_ERR_CONNECT_TIMEOUT: 'connect_timeout',
  ETIMEDOUT: 'connect_timeout',
  UND_ERR_HEADERS_TIMEOUT: 'read_timeout',
  UND_ERR_BODY_TIMEOUT: 'read_timeout',
  UND_ERR_SOCKET: 'reset',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  CERT_HAS_EXPIRED: 'tls',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'tls',
  SELF_SIGNED_CERT_IN_CHAIN: 'tls',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'tls',
  ERR_TLS_CERT_ALTNAME_INVALID: 'tls',
}

/** The first error code found on an error, its cause chain or an AggregateError's members. */
function codeOf(err: unknown, depth = 0): string | undefined {
  if (typeof err !== 'object' || err === null || depth > 4) return undefined
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown }
  if (typeof e.code === 'string' && e.code in SYSTEM_CODES) return e.code
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const c = codeOf(inner, depth + 1)
      if (c) return c
    }
  }
  return codeOf(e.cause, depth + 1) ?? (typeof e.code === 'string' ? e.code : undefined)
}

/** Turns whatever undici threw into a TransportError with a code that decides the money. */
export function toTransportError(err: unknown): TransportError {
  if (err instanceof TransportError) return err
  const code = codeOf(err)
  const kind = (code && SYSTEM_CODES[code]) || 'other'
  const message = err instanceof Error && err.message ? err.message : String(err)
  return new TransportError(kind, `${code ?? 'transport error'}: ${message}`, err)
}

/**
 * The body of an answer whose headers came. A connection that drops now is no longer "before any
 * answer": the gateway read the request (a timeout between chunks stays a read timeout).
 */
async function readBody(body: { text(): Promise<string> }, status: number): Promise<string> {
  try {
    return await body.text()
  } catch (err) {
    const t = toTransportError(err)
    if (t.code !== 'reset') throw t
    throw new TransportError(
      'reset_after_headers',
      `HTTP ${status} headers, then ${t.message}`,
      err,
    )
  }
}

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const readTimeoutMs = options.readTimeoutMs ?? 30_000
  const agentOptions = {
    connect: { timeout: options.connectTimeoutMs ?? 5_000 },
    headersTimeout: readTimeoutMs,
    bodyTimeout: readTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 10_000,
  }
  const p = options.proxy
  const dispatcher: Dispatcher =
    p && (p.httpProxy || p.httpsProxy)
      ? new EnvHttpProxyAgent({
          ...agentOptions,
          ...(p.httpProxy ? { httpProxy: p.httpProxy } : {}),
          ...(p.httpsProxy ? { httpsProxy: p.httpsProxy } : {}),
          ...(p.noProxy ? { noProxy: p.noProxy } : {}),
        })
      : new Agent(agentOptions)
  return {
    async request(req) {
      try {
        const res = await request(req.url, {
          dispatcher,
          method: req.method,
          headers: req.headers ?? {},
          ...(req.body === undefined ? {} : { body: req.body }),
          ...(req.readTimeoutMs === undefined
            ? {}
            : { headersTimeout: req.readTimeoutMs, bodyTimeout: req.readTimeoutMs }),
        })
        const text = await readBody(res.body, res.statusCode)
        const headers: Record<string, string> = {}
        for (const [k, v] of Object.entries(res.headers)) {
          if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v
        }
        return { status: res.statusCode, headers, text }
      } catch (err) {
        throw toTransportError(err)
      }
    },
    async close() {
      await dispatcher.close()
    },
  }
}
