import { validationError } from './errors.js'

const KENYAN = /^254(7|1)\d{8}$/

/**
 * Normalises a Kenyan mobile number to the MSISDN form Daraja wants, 2547XXXXXXXX or 2541XXXXXXXX,
 * from `07…`, `01…`, `+254…` or `254…` (spaces, dashes and dots allowed). Anything else is refused.
 *
 * @example normalisePhone('0712 345 678') // '254712345678'
 */
export function normalisePhone(input: string): string {
  const compact = input.trim().replace(/[\s.()-]/g, '')
  let digits = compact
  if (digits.startsWith('+')) digits = digits.slice(1)
  else if (/^0[17]\d{8}$/.test(digits)) digits = `254${digits.slice(1)}`
  if (!KENYAN.test(digits)) {
    throw validationError(
      'invalid_phone',
      `"${input}" is not a Kenyan mobile number`,
      'give it as 07XXXXXXXX, 01XXXXXXXX, +2547XXXXXXXX or 2547XXXXXXXX',
    )
  }
  return digits
}

/** 254712345678 → 2547******78: enough to recognise, not enough to reuse. */
export function maskMsisdn(msisdn: string): string {
  if (msisdn.length <= 6) return '*'.repeat(msisdn.length)
  return `${msisdn.slice(0, 4)}${'*'.repeat(msisdn.length - 6)}${msisdn.slice(-2)}`
}
