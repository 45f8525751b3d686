import { MAX_REFERENCE_LENGTH, MPESA_RECEIPT } from '../statements/profile.js'

/** Gateways whose receipts are M-Pesa receipts (NLJ7RT61SV). */
const MPESA_TYPES = new Set(['mpesa', 'mpesa-kcb'])
/** Any other gateway's receipt: an id (ch_3N…, a Square receipt number), no spaces or formulas. */
const GATEWAY_ID = /^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/

/**
 * Why a receipt a gateway sent cannot be written on a payment, or null when it can. Receipts end
 * up in exports and reconciliation, so they are checked where they enter: an M-Pesa receipt is
 * ten capital letters or digits, any other at most 64 characters of an id.
 *
 * @example receiptProblem('mpesa', '=1+1') // 'an M-Pesa receipt is 10 capital letters or digits'
 */
export function receiptProblem(gateway: string, receipt: string): string | null {
  if (MPESA_TYPES.has(gateway))
    return MPESA_RECEIPT.test(receipt) ? null : 'an M-Pesa receipt is 10 capital letters or digits'
  if (receipt.length > MAX_REFERENCE_LENGTH)
    return `${receipt.length} characters, at most ${MAX_REFERENCE_LENGTH}`
  return GATEWAY_ID.test(receipt) ? null : 'a receipt is letters, digits and _ . : / -'
}

/** A receipt as messages show it: quoted, escaped, cut at 40 characters. */
export const shownReceipt = (r: string): string =>
  JSON.stringify(r.length > 40 ? `${r.slice(0, 40)}…` : r)

/**
 * The outcome with its receipt left out when the receipt fails the check (a gateway's answer to
 * our own call, a status query): the payment still moves, it just never carries such a receipt.
 */
export function withCheckedReceipt<O extends { refs: { receiptNumber?: string | undefined } }>(
  gateway: string,
  o: O,
): O {
  const r = o.refs.receiptNumber
  if (r === undefined || receiptProblem(gateway, r) === null) return o
  const { receiptNumber: _dropped, ...refs } = o.refs
  return { ...o, refs }
}
