/*
 * What goes into the audit log is redacted by key name, before hashing: secrets never enter the
 * log at all, and phone numbers keep just enough to recognise a customer. Names are compared
 * lower-cased with `_`, `-` and spaces removed, so apiKey, api_key and X-Api-Key are one name.
 */

export const REDACTED = '[redacted]'

/** A name containing one of these is secret (consumerSecret, access_token, Stripe-Signature). */
const SECRET_PARTS = [
  'secret',
  'passkey',
  'password',
  'passwd',
  'token',
  'apikey',
  'consumerkey',
  'accesskey',
  'privatekey',
  'signingkey',
  'masterkey',
  'credential',
  'authorization',
  'signature',
  'cookie',
]
/** Whole names only: as parts they would hide idempotencyKey, keyId, shipping, … */
const SECRET_NAMES = new Set(['key', 'pass', 'pwd', 'pin', 'cvv', 'cvc', 'auth'])
const PHONE_PARTS = ['phone', 'msisdn', 'mobile']
const PHONE_NAMES = new Set(['partya'])

const normalise = (name: string) => name.toLowerCase().replace(/[-_\s]/g, '')

export function isSecretKey(name: string): boolean {
  const n = normalise(name)
  return SECRET_NAMES.has(n) || SECRET_PARTS.some((p) => n.includes(p))
}

export function isPhoneKey(name: string): boolean {
  const n = normalise(name)
  return PHONE_NAMES.has(n) || PHONE_PARTS.some((p) => n.includes(p))
}

/**
 * Keeps the first 3 and last 3 digits: '254712345678' → '254******678'. A leading '+' stays;
 * other formatting is dropped. Too short to keep 6 digits and hide some → '***'.
 */
export function maskPhone(s: string): string {
  const digits = s.replace(/\D/g, '')
  if (digits.length < 7) return '***'
  const plus = s.trimStart().startsWith('+') ? '+' : ''
  return `${plus}${digits.slice(0, 3)}${'*'.repeat(digits.length - 6)}${digits.slice(-3)}`
}

/** A deep copy of `value` with secrets replaced by '[redacted]' and phone numbers masked. */
export function redactForAudit(value: unknown): unknown {
  return copy(value, new Set())
}

function copy(value: unknown, stack: Set<object>): unknown {
  if (typeof value !== 'object' || value === null) return value
  if (stack.has(value)) return '[circular]'
  stack.add(value)
  try {
    if (Array.isArray(value)) return value.map((v) => copy(v, stack))
    if (value instanceof Date) return new Date(value.getTime())
    const toJSON = (value as { toJSON?: unknown }).toJSON
    if (typeof toJSON === 'function') return copy(toJSON.call(value), stack)
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = field(k, v, stack)
    return out
  } finally {
    stack.delete(value)
  }
}

function field(key: string, v: unknown, stack: Set<object>): unknown {
  // null / undefined hide nothing and record that a secret was cleared or absent.
  if (v === null || v === undefined) return v
  if (isSecretKey(key)) return REDACTED
  if (
    isPhoneKey(key) &&
    (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint')
  ) {
    return maskPhone(String(v))
  }
  return copy(v, stack)
}
