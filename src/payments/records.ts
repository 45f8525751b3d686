/**
 * The payment records other capabilities read and write inside their own transactions (a C2B
 * payment, a callback's match, a settlement batch): the payments capability's public store face.
 */

export { listBreakers } from './breakers-store.js'
export {
  type AttemptRow,
  findAttempt,
  findAttemptByRef,
  findPayment,
  findPaymentByReceipt,
  findUnreferencedMpesaAttempts,
  insertAttempt,
  listAttemptRefs,
  listUnreceiptedMpesaAttempts,
  type PaymentRow,
  paymentGauges,
} from './payments-store.js'
