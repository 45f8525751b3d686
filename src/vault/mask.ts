const BULLETS = '••••••••'

/**
 * Shows only the last 4 characters behind a fixed run of 8 bullets, so the length of the secret
 * is not shown either: `maskSecret('…c919')` → '••••••••c919'. Four characters or fewer show
 * nothing, since the tail would be the whole secret.
 */
export function maskSecret(s: string): string {
  // Code points, so an emoji or other astral character is never cut in half.
  const chars = Array.from(s)
  if (chars.length <= 4) return BULLETS
  return BULLETS + chars.slice(-4).join('')
}
