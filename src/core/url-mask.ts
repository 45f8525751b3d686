import { isSecretKey } from './audit/redact.js'

/**
 * The one function that makes a URL (or a libpq connection string) safe to print, log or audit.
 *
 * A URL is read as the WHATWG URL parser reads it (what undici, fetch and pg connect to), so what
 * is shown is where the request goes: `http://127.0.0.1:18201#@127.0.0.1:18203` and
 * `…?x=@host` are shown as they are (an `@` in a fragment or query is no user information).
 * Masked: the password of the user information (`***`), the whole user information of an
 * http(s)/ws(s) URL (there it is only ever a credential; a database URL keeps its role name),
 * the value of every query parameter with a secret's name (password, sslpassword, token, key,
 * secret, signature …: the audit log's own list), and a path holding an `@` after a password (the
 * rest of a password with an unescaped `/`). Nothing to mask: the text comes back unchanged.
 *
 * Text the parser refuses (a mistyped port, a `?` inside a password, a libpq `key=value`
 * string, a log line) is masked by its shape instead: when in doubt it masks more, never less.
 */
export function maskUrl(text: string): string {
  const url = parse(text)
  return url ? maskParsed(text, url) : maskLoose(text)
}

/** True when the URL carries a password in its user information (user:password@). */
export function hasUserPassword(text: string): boolean {
  const url = parse(text)
  if (url) return url.password !== ''
  const bare = text.replace(/[?#].*$/, '')
  return maskLoose(bare) !== bare
}

/** Every URL in a free text (a log line, an error from a driver) through maskUrl. */
export function maskUrlsIn(text: string): string {
  // A scheme starts where no scheme character precedes it and is at most 32 long: linear on
  // any input (an unbounded one is quadratic on a long run of letters).
  return maskPasswordParams(
    text.replace(/(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,31}:\/\/[^\s"'<>`]*/g, (url) =>
      maskUrl(url),
    ),
  )
}

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//
const CREDENTIAL_ONLY = new Set(['http:', 'https:', 'ws:', 'wss:'])

function parse(text: string): URL | undefined {
  if (!SCHEME.test(text)) return undefined
  try {
    return new URL(text)
  } catch {
    return undefined
  }
}

function maskParsed(text: string, url: URL): string {
  const credentialOnly = CREDENTIAL_ONLY.has(url.protocol)
  const maskUser = credentialOnly && url.username !== ''
  const maskPassword = url.password !== ''
  const maskPath = maskPassword && url.pathname.includes('@')
  const query = maskQuery(url.search)
  if (!maskUser && !maskPassword && !maskPath && query === url.search) return text
  const out = new URL(url.href)
  if (maskUser) out.username = '***'
  if (maskPassword) out.password = '***'
  if (maskPath) out.pathname = '/***'
  out.search = query
  return out.href
}

/** `?a=1&password=x` with every secret-named parameter's value as `***` (the rest as written). */
function maskQuery(search: string): string {
  if (search.length <= 1) return search
  const parts = search.slice(1).split('&')
  let changed = false
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string
    const eq = part.indexOf('=')
    if (eq < 0) continue
    let name: string
    try {
      name = decodeURIComponent(part.slice(0, eq).replaceAll('+', ' '))
    } catch {
      name = part.slice(0, eq)
    }
    if (isSecretKey(name) && part.slice(eq + 1) !== '***') {
      parts[i] = `${part.slice(0, eq)}=***`
      changed = true
    }
  }
  return changed ? `?${parts.join('&')}` : search
}

/** Text the URL parser refuses: by its shape (the password of a user information, `password=`). */
function maskLoose(text: string): string {
  return maskPasswordParams(maskLooseUserInfo(text))
}

function maskLooseUserInfo(text: string): string {
  let out = text
  const scheme = SCHEME.exec(out)
  if (scheme) {
    const head = scheme[0]
    const rest = out.slice(head.length)
    // The user information ends at the last '@' before the query (a password may hold '/' or
    // '@' unescaped); a '?' in the password leaves none before it: then the last '@' at all.
    const query = rest.search(/[?#]/)
    let at = query < 0 ? rest.lastIndexOf('@') : rest.lastIndexOf('@', query)
    if (at < 0) at = rest.lastIndexOf('@')
    if (at >= 0) {
      const userInfo = rest.slice(0, at)
      const colon = userInfo.indexOf(':')
      if (colon >= 0) out = `${head}${userInfo.slice(0, colon)}:***${rest.slice(at)}`
    }
  }
  return out
}

/** Every `password=` / `sslpassword=` of a libpq string or a free text, its value as `***`. */
function maskPasswordParams(text: string): string {
  return text.replace(
    /(^|[\s?&;])((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&#"'`]*)/gi,
    (_m, lead: string, key: string) => `${lead}${key}***`,
  )
}

/** A deep copy of plain data with every URL inside its strings masked (what the audit log keeps). */
export function maskUrlsDeep(value: unknown): unknown {
  if (typeof value === 'string') return value.includes('://') ? maskUrlsIn(value) : value
  if (Array.isArray(value)) return value.map(maskUrlsDeep)
  if (
    typeof value !== 'object' ||
    value === null ||
    Object.getPrototypeOf(value) !== Object.prototype
  )
    return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = maskUrlsDeep(v)
  return out
}
