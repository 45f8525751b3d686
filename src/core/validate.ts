import { fieldError, validationError } from './errors.js'

const SLUG = /^[a-z][a-z0-9-]{0,39}$/

/** Branch codes and tenant slugs: lower case, starting with a letter, letters, digits and dashes. */
export function parseSlug(input: string, what: string): string {
  if (!SLUG.test(input) || input.endsWith('-') || input.includes('--')) {
    throw validationError(
      'invalid_code',
      `${what} "${input}" is not valid`,
      `use 1 to 40 lower-case letters, digits and single dashes, starting with a letter (e.g. westlands)`,
    )
  }
  return input
}

/** A real IANA time zone, e.g. Africa/Nairobi; returned in its canonical spelling. */
export function parseTimeZone(input: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: input }).resolvedOptions().timeZone
  } catch {
    throw validationError(
      'invalid_timezone',
      `"${input}" is not a known time zone`,
      'give an IANA zone name such as Africa/Nairobi or Africa/Kampala',
    )
  }
}

/**
 * C0 and C1 control characters (tab, newline and escape included), the line and paragraph
 * separators and the bidirectional overrides: none belongs in a name, a narrative or an account
 * field, and each can break a bank file (invalid XML) or disguise what a person reads.
 */
const CONTROL = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u

/** The first control character of `value` as `U+0001 at character 4`, or undefined. */
export function controlCharIn(value: string): string | undefined {
  const m = CONTROL.exec(value)
  if (!m) return undefined
  const code = (m[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')
  return `U+${code} at character ${Array.from(value.slice(0, m.index)).length + 1}`
}

/**
 * Refuses a value with a control character (exit 3), naming the request field (`accountName`),
 * which the CLI shows as its flag (`--account-name`).
 */
export function refuseControl(value: string, field: string): void {
  const at = controlCharIn(value)
  if (at !== undefined)
    throw fieldError(
      'validation',
      'control_character',
      [field],
      `${field} contains a control character (${at})`,
      'type the value again without control characters (tab, newline, escape sequences)',
    )
}

/**
 * A name (tenant, branch, account, bank): trimmed, 1 to 200 characters, no control character.
 * `field` is the request field that carried it (default `name`).
 */
export function parseName(input: string, what: string, field = 'name'): string {
  refuseControl(input, field)
  const name = input.trim()
  if (name.length === 0 || name.length > 200) {
    throw validationError('invalid_name', `${what} must be 1 to 200 characters`)
  }
  return name
}

/** A comma-separated list of choices, each checked against the allowed set; duplicates removed. */
export function parseChoiceList(input: string, allowed: readonly string[], what: string): string[] {
  const items = input
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0)
  const bad = items.filter((s) => !allowed.includes(s))
  if (items.length === 0 || bad.length > 0) {
    throw validationError(
      'invalid_choice',
      bad.length > 0 ? `unknown ${what}: ${bad.join(', ')}` : `no ${what} given`,
      `choose from ${allowed.join(', ')}`,
    )
  }
  return [...new Set(items)]
}

/**
 * A request field that must be one of a fixed set (exit 3 naming the field and the choices);
 * absent or empty passes. `code` defaults to `invalid_<field>` in snake case.
 */
export function checkChoice(
  field: string,
  value: string | undefined,
  choices: readonly string[],
  how: { says?: 'is not one of' | 'must be one of'; code?: string } = {},
): void {
  if (value === undefined || value === '' || choices.includes(value)) return
  const code = how.code ?? `invalid_${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`
  throw fieldError(
    'validation',
    code,
    [field],
    how.says === 'must be one of'
      ? `${field} must be one of ${choices.join(', ')}`
      : `${field} "${value}" is not one of ${choices.join(', ')}`,
  )
}
