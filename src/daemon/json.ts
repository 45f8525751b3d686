const MARK = '\u0000bigint:'

/** JSON.stringify that writes bigint values (money in minor units) as plain JSON integers. */
export function toJson(value: unknown): string {
  const text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${MARK}${v}` : v))
  return text.includes('\\u0000bigint:') ? text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1') : text
}
