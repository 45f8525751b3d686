import { randomBytes, randomInt } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { DateTimeParts } from '../core/time.js'

/** A request as the simulators see it: the body is read, the path split from its query. */
export interface SimRequest {
  method: string
  path: string
  query: URLSearchParams
  headers: IncomingHttpHeaders
  raw: string
  /** Captures of the route's pattern. */
  params: string[]
}

/** A complete answer: a JSON document, or a text body (a proxy's HTML page, an empty 5xx). */
export interface JsonReply {
  kind: 'json'
  status: number
  body: unknown
  headers?: Record<string, string>
}
export interface TextReply {
  kind: 'text'
  status: number
  body: string
  contentType: string
}

export type SimReply =
  | JsonReply
  | TextReply
  /** Destroy the socket before any answer. */
  | { kind: 'reset' }
  /**
   * The request was processed and `reply` is its answer, but the client never reads it: the wire
   * shows a reset, the answer's headers then a reset (`cut`), or a proxy's own page.
   */
  | { kind: 'lost'; reply: JsonReply; wire: 'reset' | 'cut' | TextReply }
  /** Send `reply`, but only after `ms`. */
  | { kind: 'withhold'; ms: number; reply: SimReply }

export const json = (status: number, body: unknown, headers?: Record<string, string>): JsonReply =>
  headers ? { kind: 'json', status, body, headers } : { kind: 'json', status, body }
export const text = (status: number, body: string, contentType = 'text/html'): TextReply => ({
  kind: 'text',
  status,
  body,
  contentType,
})
export const RESET: SimReply = { kind: 'reset' }

/** What a simulator keeps per idempotency key: the first request's fingerprint and answer. */
export type IdempotencyMemory = Map<string, { fingerprint: string; reply: SimReply }>

/** A JSON body's fields in one order, so the same request gives the same fingerprint. */
export const bodyFingerprint = (body: Record<string, unknown>) =>
  JSON.stringify(Object.entries(body).sort(([a], [c]) => a.localeCompare(c)))

/**
 * Answers a request made under an idempotency key (`slot`): a request already seen with the same
 * fingerprint gets its first answer again (through `replay`), with another one `conflict()`; a
 * new one `run()`s and its answer is kept. A reset never reached the point of saving a result;
 * a withheld or lost answer is already decided.
 */
export function idempotent(
  memory: IdempotencyMemory,
  slot: string,
  fingerprint: string,
  conflict: () => SimReply,
  run: () => SimReply,
  replay: (first: SimReply) => SimReply = (first) => first,
): SimReply {
  const seen = memory.get(slot)
  if (seen) return seen.fingerprint === fingerprint ? replay(seen.reply) : conflict()
  const reply = run()
  const final = reply.kind === 'withhold' ? reply.reply : reply
  // A lost answer was decided (only its delivery failed): a replay gets it whole.
  if (final.kind === 'lost') memory.set(slot, { fingerprint, reply: final.reply })
  else if (final.kind !== 'reset') memory.set(slot, { fingerprint, reply: final })
  return reply
}

export type Handler = (req: SimRequest) => SimReply | Promise<SimReply>
export interface Route {
  method: string
  pattern: RegExp
  handler: Handler
}

export const route = (method: string, pattern: RegExp, handler: Handler): Route => ({
  method,
  pattern,
  handler,
})

export const headerOf = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name.toLowerCase()]
  return Array.isArray(v) ? v.join(', ') : v
}

/** The Bearer token of a request, if it has one. */
export function bearer(h: IncomingHttpHeaders): string | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(headerOf(h, 'authorization') ?? '')
  return m?.[1]?.trim() || undefined
}

export function parseJsonBody(raw: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(raw) as unknown
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

export const isJson = (h: IncomingHttpHeaders) =>
  /^application\/json\b/i.test(headerOf(h, 'content-type') ?? '')

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
const LOWER = 'abcdefghijklmnopqrstuvwxyz0123456789'
export const randomFrom = (alphabet: string, n: number) =>
  Array.from({ length: n }, () => alphabet[randomInt(alphabet.length)]).join('')
export const randomAlnum = (n: number) => randomFrom(ALNUM, n)
export const randomLower = (n: number) => randomFrom(LOWER, n)
export const randomDigits = (n: number) => randomFrom('0123456789', n)
export const randomHex = (bytes: number) => randomBytes(bytes).toString('hex')

/** A loopback http URL, or any https URL: what the simulators accept as a callback address. */
export function acceptableCallbackUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false
  let u: URL
  try {
    u = new URL(value)
  } catch {
    return false
  }
  if (u.protocol === 'https:') return true
  return u.protocol === 'http:' && isLoopbackHost(u.hostname)
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h)
}

/** Whole numbers given as a JSON number or a digit string; undefined otherwise. */
export function wholeNumber(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v
  if (typeof v === 'string' && /^\d{1,12}$/.test(v.trim())) return Number(v.trim())
  return undefined
}

/** Nairobi is UTC+3 all year (no DST since 1942): `YYYYMMDDHHmmss` ↔ epoch ms. */
export function nairobiStamp(ms: number): string {
  const d = new Date(ms + 3 * 3600_000)
  const p = (n: number, w = 2) => String(n).padStart(w, '0')
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`
}

export function parseNairobiStamp(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(s)
  if (!m) return undefined
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as DateTimeParts
  const ms = Date.UTC(y, mo - 1, d, h - 3, mi, se)
  // Reject 20250231…: the round trip must give the same text.
  return nairobiStamp(ms) === s ? ms : undefined
}
