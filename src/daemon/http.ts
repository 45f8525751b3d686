import type { IncomingMessage, ServerResponse } from 'node:http'
import { HttpError } from './http-errors.js'
import { toJson } from './json.js'

/** Callback and API bodies are small; anything larger is refused with 413. */
export const BODY_LIMIT = 64 * 1024
/** A refused body is read and thrown away up to this size (so the 413 reaches the client). */
const DRAIN_LIMIT = 16 * 1024 * 1024

export interface Req {
  raw: IncomingMessage
  method: string
  path: string
  query: URLSearchParams
  params: Record<string, string>
  /**
   * The caller's address: the socket's, or with --trust-proxy and a trusted proxy as the peer,
   * the right-most X-Forwarded-For address that is not a trusted proxy (see client-address.ts).
   */
  remote: string | undefined
}

export const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name]
  return Array.isArray(v) ? v.join(', ') : v
}

/**
 * Where an event stream resumes: the `Last-Event-ID` header, or the `lastEventId` query (a page
 * reopening its stream), as an event number; undefined: from now.
 */
export function lastEventId(req: Req): number | undefined {
  const last = header(req.raw, 'last-event-id') ?? req.query.get('lastEventId') ?? undefined
  if (last !== undefined && !/^\d{1,15}$/.test(last.trim()))
    throw new HttpError(400, 'invalid_last_event_id', 'Last-Event-ID must be an event number')
  return last === undefined ? undefined : Number(last.trim())
}

/** The whole body, at most `limit` bytes: a larger one is drained and refused with 413. */
export function readBody(req: IncomingMessage, limit = BODY_LIMIT): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN)
  let tooLarge = Number.isFinite(declared) && declared > limit
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > limit) tooLarge = true
      if (!tooLarge) chunks.push(c)
      else if (size > DRAIN_LIMIT) req.destroy()
    })
    req.on('end', () => {
      if (tooLarge)
        reject(
          new HttpError(413, 'body_too_large', `the body is larger than ${limit} bytes`, {
            connection: 'close',
          }),
        )
      else
        resolve(
          chunks.length === 1
            ? chunks[0]!.toString('utf8')
            : Buffer.concat(chunks).toString('utf8'),
        )
    })
    req.on('error', () =>
      reject(new HttpError(400, 'incomplete_body', 'the request body was not received in full')),
    )
    // A client that goes away (or is cut off by the request timeout) never sends 'end'.
    req.on('close', () => {
      if (!req.complete)
        reject(new HttpError(400, 'incomplete_body', 'the request body was not received in full'))
    })
  })
}

/** Deeper than any gateway or API body: refused before parsing, so nothing recurses on it. */
export const MAX_JSON_DEPTH = 64

/**
 * Parses a request body. Before JSON.parse, one pass over the text refuses nesting deeper than
 * MAX_JSON_DEPTH and, with `rejectDuplicates`, an object naming one key twice (JSON.parse keeps
 * the last silently, so two readers could see two different requests): both 400.
 */
export function parseJsonBody(raw: string, options: { rejectDuplicates?: boolean } = {}): unknown {
  const shape = scanJson(raw, options.rejectDuplicates === true)
  if (shape) throw new HttpError(400, shape.code, shape.message)
  try {
    return JSON.parse(raw) as unknown
  } catch {
    throw new HttpError(400, 'invalid_json', 'the body is not valid JSON')
  }
}

/** The structural problem of a JSON text, if any (invalid JSON itself is left to JSON.parse). */
function scanJson(raw: string, duplicates: boolean): { code: string; message: string } | null {
  // One entry per open container: the keys of an object (null for an array).
  const stack: (Set<string> | null)[] = []
  let expectKey = false
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i)
    if (c === 0x22 /* " */) {
      let j = i + 1
      while (j < raw.length && raw.charCodeAt(j) !== 0x22) j += raw.charCodeAt(j) === 0x5c ? 2 : 1
      if (expectKey && duplicates) {
        const keys = stack[stack.length - 1]
        let key: string
        try {
          key = JSON.parse(raw.slice(i, j + 1)) as string
        } catch {
          return null
        }
        if (keys?.has(key))
          return {
            code: 'duplicate_key',
            message: `the body names "${key.slice(0, 60)}" twice in one object`,
          }
        keys?.add(key)
      }
      expectKey = false
      i = j
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push(c === 0x7b ? new Set() : null)
      if (stack.length > MAX_JSON_DEPTH)
        return {
          code: 'too_deep',
          message: `the body is nested deeper than ${MAX_JSON_DEPTH} levels`,
        }
      expectKey = c === 0x7b
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop()
      expectKey = false
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] instanceof Set
    }
  }
  return null
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = toJson(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  })
  res.end(text)
}

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  contentType = 'text/plain; charset=utf-8',
): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) })
  res.end(text)
}
