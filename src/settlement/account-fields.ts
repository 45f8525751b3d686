import { fieldError, usageError } from '../core/errors.js'
import type { Schedule } from '../core/schedule.js'
import { compactIban, ibanChecks, looksLikeIban } from '../core/settlement/iban.js'
import { parseName, refuseControl } from '../core/validate.js'

/**
 * What a branch's settlement account and a tenant's collection account have in common: a bank
 * account (name, number, bank, bank code, SWIFT/BIC), read, validated and shown the same way.
 */
export interface BankAccountInput {
  accountName?: string | undefined
  accountNumber?: string | undefined
  bankName?: string | undefined
  bankCode?: string | undefined
  swift?: string | undefined
}

export interface BankAccountRow {
  account_name: string
  account_number: string
  bank_name: string
  bank_code: string | null
  swift: string | null
}

export interface BankAccountView {
  accountName: string
  accountNumber: string
  bankName: string
  bankCode: string | null
  swift: string | null
}

/** The request fields that change a bank account. */
export const BANK_ACCOUNT_KEYS = [
  'accountName',
  'accountNumber',
  'bankName',
  'bankCode',
  'swift',
] as const satisfies readonly (keyof BankAccountInput)[]

const ACCOUNT_NUMBER = /^[A-Za-z0-9 -]{4,34}$/
// ISO 9362 as the pain.001 schema's BICIdentifier has it (the location code's second character
// is never O; its first is never 0 or 1).
const SWIFT = /^[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?$/
const BANK_CODE = /^[A-Za-z0-9-]{1,20}$/

const flagOf = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`

/**
 * The bank account of a new or changed account, validated: what `input` gives over what
 * `existing` has. A new account (no `existing`) needs its name, number and bank name; `what`
 * names it in that message ("settlement account for westlands (KES)").
 */
export function bankAccountOf(
  input: BankAccountInput,
  existing: BankAccountRow | undefined,
  what: string,
): BankAccountRow {
  if (!existing) {
    const missing = (['accountName', 'accountNumber', 'bankName'] as const).filter((k) => !input[k])
    if (missing.length > 0)
      throw usageError(
        'missing_flags',
        `missing required ${missing.length === 1 ? 'flag' : 'flags'}: ${missing.map(flagOf).join(', ')}`,
        `a new ${what} needs --account-name, --account-number and --bank-name`,
      )
  }
  for (const k of BANK_ACCOUNT_KEYS) if (input[k] !== undefined) refuseControl(input[k], k)
  const accountNumber = ibanForm((input.accountNumber ?? existing?.account_number ?? '').trim())
  if (!ACCOUNT_NUMBER.test(accountNumber))
    throw fieldError(
      'validation',
      'invalid_account_number',
      ['accountNumber'],
      `accountNumber "${accountNumber}" must be 4 to 34 letters, digits, spaces or dashes`,
    )
  const swift =
    input.swift !== undefined ? input.swift.trim().toUpperCase() : (existing?.swift ?? null)
  if (swift !== null && !SWIFT.test(swift))
    throw fieldError(
      'validation',
      'invalid_swift',
      ['swift'],
      `swift "${swift}" is not a SWIFT/BIC code`,
      '8 or 11 characters, e.g. KCBLKENX',
    )
  const bankCode =
    input.bankCode !== undefined ? input.bankCode.trim() : (existing?.bank_code ?? null)
  if (bankCode !== null && !BANK_CODE.test(bankCode))
    throw fieldError(
      'validation',
      'invalid_bank_code',
      ['bankCode'],
      `bankCode "${bankCode}" must be letters, digits or dashes`,
    )
  return {
    account_name: parseName(
      input.accountName ?? existing?.account_name ?? '',
      'account name',
      'accountName',
    ),
    account_number: accountNumber,
    bank_name: parseName(input.bankName ?? existing?.bank_name ?? '', 'bank name', 'bankName'),
    bank_code: bankCode,
    swift,
  }
}

/**
 * An account number that looks like an IBAN (two letters, two digits, 11 to 30 letters or
 * digits; spaces ignored) must pass the ISO 13616 check; it is kept in its electronic form
 * (upper case, no spaces), as the pain.001 `<IBAN>` carries it. Any other number is kept as given.
 */
function ibanForm(accountNumber: string): string {
  if (!looksLikeIban(accountNumber)) return accountNumber
  if (!ibanChecks(accountNumber))
    throw fieldError(
      'validation',
      'invalid_iban',
      ['accountNumber'],
      `accountNumber "${accountNumber}" looks like an IBAN but its check digits are wrong (ISO 13616 mod 97)`,
      'check the number against the bank’s statement; an account number that is not an IBAN must not start with two letters and two digits',
    )
  return compactIban(accountNumber)
}

export const bankAccountView = (r: BankAccountRow): BankAccountView => ({
  accountName: r.account_name,
  accountNumber: r.account_number,
  bankName: r.bank_name,
  bankCode: r.bank_code,
  swift: r.swift,
})

/** A settlement account's schedule, from its row. */
export const scheduleOf = (a: {
  schedule: string
  at_time: string
  weekday: string | null
  month_day: string | null
}): Schedule => ({
  kind: a.schedule as Schedule['kind'],
  at: a.at_time,
  weekday: a.weekday,
  day: a.month_day,
})
