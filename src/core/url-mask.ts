/**
 * The one function that makes a URL (or a libpq connection string) safe to print, log or audit:
 * the password of its user information and every `password=` / `sslpassword=` parameter become
 * `***`. It works on malformed text too (a mistyped scheme, a bad port or `%` escape): when in
 * doubt it masks more, never less.
 */
export function maskUrl(text: string): string {
  let out = text
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(out)
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
  return out.replace(
    /(^|[\s?&;])((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&#"'`]*)/gi,
    (_m, lead: string, key: string) => `${lead}${key}***`,
  )
}

/** True when the URL carries a password in its user information (user:password@). */
export function hasUserPassword(text: string): boolean {
  return maskUrl(text.replace(/[?#].*$/, '')) !== text.replace(/[?#].*$/, '')
}

/** Every URL in a free text (a log line, an error from a driver) through maskUrl. */
export function maskUrlsIn(text: string): string {
  // A scheme starts where no scheme character precedes it and is at most 32 long: linear on
  // any input (an unbounded one is quadratic on a long run of letters).
  return maskUrl(
    text.replace(/(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,31}:\/\/[^\s"'<>`]*/g, (url) =>
      maskUrl(url),
    ),
  )
}
