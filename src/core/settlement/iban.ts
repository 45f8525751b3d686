/**
 * IBANs (ISO 13616). An account number that looks like one (two letters, two digits, then 11 to
 * 30 letters or digits, spaces ignored) must pass the mod-97 check: a mistyped IBAN is refused
 * where it is entered instead of being sent to a bank, which may pay a wrong account or bounce
 * the transfer days later.
 */

const SHAPE = /^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$/

/** The electronic form of a number: upper case, without spaces. */
export const compactIban = (accountNumber: string) => accountNumber.replace(/ /g, '').toUpperCase()

/** Whether an account number has the shape of an IBAN (whatever its check digits). */
export const looksLikeIban = (accountNumber: string): boolean =>
  SHAPE.test(compactIban(accountNumber))

/** ISO 13616 / ISO 7064 mod 97-10: the first four characters moved to the end, letters as 10–35. */
export function ibanChecks(accountNumber: string): boolean {
  const iban = compactIban(accountNumber)
  if (!SHAPE.test(iban)) return false
  const moved = iban.slice(4) + iban.slice(0, 4)
  let rest = 0
  for (const c of moved) {
    const n = c >= 'A' ? c.charCodeAt(0) - 55 : c.charCodeAt(0) - 48
    // Two-digit values (letters) shift by 100, digits by 10; the remainder stays small.
    rest = (rest * (n >= 10 ? 100 : 10) + n) % 97
  }
  return rest === 1
}
