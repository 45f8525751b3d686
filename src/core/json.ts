const MARK = '\u0000bigint:'

/** The value a stored text holds as JSON, or the text itself when it is not JSON. */
export function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** JSON.stringify that writes bigint values as plain JSON integers (money in minor units). */
export function toJson(value: unknown, indent = 2): string {
  const text = JSON.stringify(
    value,
    (_key, v) => (typeof v === 'bigint' ? `${MARK}${v.toString()}` : v),
    indent,
  )
  return text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1')
}
