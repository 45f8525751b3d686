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
  /** The caller's address (the socket's, or X-Forwarded-For's first with --trust-proxy). */
  remote: string | undefined
}

export const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name]
  return Array.isArray(v) ? v.join(', ') : v
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

export function parseJsonBody(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown
  } catch {
    throw new HttpError(400, 'invalid_json', 'the body is not valid JSON')
  }
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
