import { validationError } from '../errors.js'

export interface Currency {
  readonly code: string
  /** ISO 4217 minor-unit exponent: 2 means 1 KES = 100 cents. */
  readonly exponent: number
  readonly name: string
}

/** ISO 4217 minor units (GATEWAYS.md §5). An unknown code is an error, never a default of 2. */
const TABLE: ReadonlyMap<string, Currency> = new Map(
  (
    [
      ['KES', 2, 'Kenyan shilling'],
      ['UGX', 0, 'Ugandan shilling'],
      ['TZS', 2, 'Tanzanian shilling'],
      ['RWF', 0, 'Rwandan franc'],
      ['BIF', 0, 'Burundian franc'],
      ['CDF', 2, 'Congolese franc'],
      ['SSP', 2, 'South Sudanese pound'],
      ['USD', 2, 'US dollar'],
    ] as const
  ).map(([code, exponent, name]) => [code, { code, exponent, name }]),
)

export const CURRENCY_CODES: readonly string[] = [...TABLE.keys()]

/** Looks a currency up by code (case-insensitive); throws a validation error naming the known codes. */
export function currency(code: string): Currency {
  const found = TABLE.get(code.trim().toUpperCase())
  if (!found) {
    throw validationError(
      'unknown_currency',
      `unknown currency "${code}"`,
      `use one of ${CURRENCY_CODES.join(', ')}`,
    )
  }
  return found
}

export const isCurrency = (code: string): boolean => TABLE.has(code.trim().toUpperCase())
