import { validationError } from '../errors.js'
import { currency, isCurrency } from '../money/currency.js'
import { toDecimalString } from '../money/format.js'
import { parsePositiveAmount } from '../money/parse.js'
import { controlCharIn } from '../validate.js'
import { type FieldSpec, fieldsWithValues, GATEWAY_FIELDS, isRequired } from './fields.js'
import type { GatewayType } from './types.js'

export interface ResolvedConfig {
  /** Every field with a value: given, else current, else its default. Money fields in minor units. */
  values: Record<string, string>
  /** Required fields that still have no value. */
  missing: FieldSpec[]
}

/**
 * Merges given values over the current configuration and the defaults, and reports what is
 * still missing. Validation of each value is separate (validateConfig), so every missing flag can
 * be listed at once before any value is judged.
 */
export function resolveConfig(
  type: GatewayType,
  given: Readonly<Record<string, string>>,
  current: Readonly<Record<string, string>> = {},
): ResolvedConfig {
  const values: Record<string, string> = { ...current, ...given }
  for (const f of GATEWAY_FIELDS[type]) {
    if (values[f.name] === undefined) {
      const d = f.defaultFrom?.(values)
      if (d !== undefined) values[f.name] = d
    }
  }
  const missing = GATEWAY_FIELDS[type].filter((f) => isRequired(f, values) && !values[f.name])
  return { values, missing }
}

const DIGITS = /^\d+$/

/** Validates and normalises every value; throws a validation error naming the flag. */
export function validateConfig(
  type: GatewayType,
  values: Record<string, string>,
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [f, v] of fieldsWithValues(type, values)) {
    if (v === '') continue
    if (!isRequired(f, values) && f.requiredWhen) continue // e.g. a till number on a paybill set-up
    out[f.name] = validateField(f, v, values)
  }
  return out
}

/**
 * Validates one field as it is typed (the prompts), with the values known so far: the normalised
 * value, or a validation error naming the flag, exactly as the flag path would judge it.
 */
export function checkField(
  type: GatewayType,
  name: string,
  value: string,
  known: Readonly<Record<string, string>>,
): string {
  const f = GATEWAY_FIELDS[type].find((x) => x.name === name)
  if (!f) throw validationError('invalid_field', `${name} does not apply to ${type}`)
  return validateField(f, value, { ...known, [name]: value })
}

function bad(f: FieldSpec, message: string, hint?: string): never {
  throw validationError('invalid_field', `--${f.flag}: ${message}`, hint)
}

function validateField(f: FieldSpec, raw: string, values: Record<string, string>): string {
  const v = f.kind === 'secret' ? raw.replace(/\r?\n$/, '') : raw.trim()
  if (v.length === 0) bad(f, 'must not be empty')
  // A secret's white space has its own message (a file's stray newline); then control characters.
  const control = f.kind === 'secret' && /\s/.test(v) ? undefined : controlCharIn(v)
  if (control !== undefined) bad(f, `contains a control character (${control})`)
  if (f.max !== undefined && v.length > f.max) bad(f, `must be at most ${f.max} characters`)
  switch (f.kind) {
    case 'digits':
      if (!DIGITS.test(v)) bad(f, `"${v}" must be digits only`, 'e.g. 174379')
      return v
    case 'enum':
      if (!f.choices?.includes(v)) bad(f, `"${v}" is not one of ${f.choices?.join(', ')}`)
      return v
    case 'url':
      return validateUrl(f, v, values['environment'])
    case 'currency':
      if (!isCurrency(v)) bad(f, `unknown currency "${v}"`)
      return currency(v).code
    case 'currencies': {
      const list = v
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean)
      const unknown = list.filter((c) => !isCurrency(c))
      if (list.length === 0 || unknown.length > 0)
        bad(f, `unknown currency ${unknown.join(', ') || '(none given)'}`)
      return [...new Set(list.map((c) => currency(c).code))].join(',')
    }
    case 'money': {
      // Stored in minor units of the configuration's default currency.
      const code = values['defaultCurrency'] ?? 'KES'
      return parsePositiveAmount(v, code).minor.toString()
    }
    case 'secret':
      if (/\s/.test(v)) bad(f, 'contains white space; check the value or the file it came from')
      return v
    case 'int': {
      const [lo, hi] = f.range ?? [0, Number.MAX_SAFE_INTEGER]
      if (!/^\d{1,9}$/.test(v) || Number(v) < lo || Number(v) > hi)
        bad(f, `"${v}" must be a whole number from ${lo} to ${hi}`)
      return String(Number(v))
    }
    case 'text':
    case 'path':
      return v
  }
}

function validateUrl(f: FieldSpec, v: string, environment: string | undefined): string {
  let url: URL
  try {
    url = new URL(v)
  } catch {
    return bad(f, `"${v}" is not a URL`, 'e.g. https://api.safaricom.co.ke')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') bad(f, 'must be an http(s) URL')
  if (environment === 'production' && url.protocol !== 'https:') {
    bad(
      f,
      'production URLs must use https',
      'use https://…, or --environment sandbox for a local simulator',
    )
  }
  return v.replace(/\/+$/, '')
}

/** The display form of a stored value (money back to major units). */
export function displayValue(f: FieldSpec, stored: string, values: Record<string, string>): string {
  if (f.kind === 'money')
    return toDecimalString({ minor: BigInt(stored), currency: values['defaultCurrency'] ?? 'KES' })
  return stored
}
