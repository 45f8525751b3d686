import { isRecord, str } from '../outcomes.js'

/** An STK callback with every value already a string (GATEWAYS.md §1.3). */
export interface StkCallback {
  merchantRequestId: string
  checkoutRequestId: string
  /** A number in the callback; a string here, like STK Query's. */
  resultCode: string
  resultDesc: string
  /** Decimal shillings as sent ("1500", "1.00" arrives as 1). */
  amount?: string | undefined
  receiptNumber?: string | undefined
  /** YYYYMMDDHHmmss (sent as a number), probably Nairobi time (UNCONFIRMED). */
  transactionDate?: string | undefined
  /** 2547XXXXXXXX (sent as a number). */
  phoneNumber?: string | undefined
  balance?: string | undefined
}

/**
 * Reads `{Body:{stkCallback:{…}}}`; items are looked up by Name, never by position, and an item
 * may have no Value. Undefined when the body is not an STK callback.
 */
export function parseStkCallback(body: unknown): StkCallback | undefined {
  if (!isRecord(body) || !isRecord(body['Body'])) return undefined
  const cb = body['Body']['stkCallback']
  if (!isRecord(cb)) return undefined
  const merchantRequestId = str(cb['MerchantRequestID'])
  const checkoutRequestId = str(cb['CheckoutRequestID'])
  const resultCode = str(cb['ResultCode'])
  if (!merchantRequestId || !checkoutRequestId || resultCode === undefined) return undefined
  const items = new Map<string, string | undefined>()
  const meta = cb['CallbackMetadata']
  const list = isRecord(meta) ? meta['Item'] : undefined
  // Some payloads carry one item as an object rather than an array.
  for (const item of Array.isArray(list) ? list : isRecord(list) ? [list] : []) {
    if (isRecord(item) && typeof item['Name'] === 'string')
      items.set(item['Name'], str(item['Value']))
  }
  return {
    merchantRequestId,
    checkoutRequestId,
    resultCode: resultCode.trim(),
    resultDesc: str(cb['ResultDesc']) ?? '',
    amount: items.get('Amount'),
    receiptNumber: items.get('MpesaReceiptNumber'),
    transactionDate: items.get('TransactionDate'),
    phoneNumber: items.get('PhoneNumber'),
    balance: items.get('Balance'),
  }
}

/** A C2B confirmation (paybill / till notification): every field is a string (GATEWAYS.md §1.6). */
export interface C2BConfirmation {
  transactionType: string
  transId: string
  /** YYYYMMDDHHmmss. */
  transTime: string
  /** "10" or "5.00". */
  transAmount: string
  businessShortCode: string
  billRefNumber: string
  invoiceNumber: string
  orgAccountBalance: string
  thirdPartyTransId: string
  /** Masked ("2547 ***** 126"): useless for matching. */
  msisdn: string
  firstName: string
  middleName: string
  lastName: string
}

export function parseC2BConfirmation(body: unknown): C2BConfirmation | undefined {
  if (!isRecord(body)) return undefined
  const transId = str(body['TransID'])
  const transAmount = str(body['TransAmount'])
  const businessShortCode = str(body['BusinessShortCode'])
  if (!transId || !transAmount || !businessShortCode) return undefined
  const s = (k: string) => str(body[k]) ?? ''
  return {
    transactionType: s('TransactionType'),
    transId,
    transTime: s('TransTime'),
    transAmount,
    businessShortCode,
    billRefNumber: s('BillRefNumber'),
    invoiceNumber: s('InvoiceNumber'),
    orgAccountBalance: s('OrgAccountBalance'),
    thirdPartyTransId: s('ThirdPartyTransID'),
    msisdn: s('MSISDN'),
    firstName: s('FirstName'),
    middleName: s('MiddleName'),
    lastName: s('LastName'),
  }
}
