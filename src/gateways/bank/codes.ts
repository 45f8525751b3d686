import { type CodeTable, serverFaults, transportTable } from '../outcomes.js'

/**
 * Our bank transfer API (simulated in src/sandbox/bank.ts; the shape is ours). Transfers are
 * idempotent on Idempotency-Key, so anything after sending is unknown and safe to resolve by a
 * query or a resend with the same key.
 */
export const BANK_CODES: CodeTable = {
  'transfer.accepted': {
    status: 'pending',
    message: 'the bank accepted the transfer; confirmation follows',
  },
  'transfer.completed': { status: 'succeeded', message: 'the bank completed the transfer' },
  'transfer.failed': {
    status: 'failed',
    kind: 'declined',
    gatewayFault: false,
    message: 'the bank refused the transfer (closed account, wrong bank code): final',
  },
  invalid_request: {
    status: 'failed',
    kind: 'not_attempted',
    gatewayFault: false,
    message: 'the bank refused a field: nothing was sent',
  },
  unauthorized: {
    status: 'failed',
    kind: 'not_attempted',
    gatewayFault: false,
    message: 'the bank refused the API key',
  },
  idempotency_conflict: {
    status: 'failed',
    kind: 'unknown',
    gatewayFault: false,
    message: 'this Idempotency-Key was first used for another transfer: query, do not resend',
  },
  internal_error: {
    status: 'failed',
    kind: 'unknown',
    gatewayFault: true,
    message:
      'the bank had an internal error: the transfer may exist; query or resend with the same key',
  },
  service_unavailable: {
    status: 'failed',
    kind: 'unknown',
    gatewayFault: true,
    message: 'the bank was unavailable: the transfer may exist; query or resend with the same key',
  },
  not_found: {
    status: 'failed',
    kind: 'unknown',
    gatewayFault: false,
    message: 'the bank does not know this transfer',
  },
  'http.401': {
    status: 'failed',
    kind: 'not_attempted',
    gatewayFault: false,
    message: 'HTTP 401: the API key was refused',
  },
  'http.429': {
    status: 'failed',
    kind: 'not_attempted',
    gatewayFault: true,
    message: 'HTTP 429: throttled',
  },
  ...serverFaults('the transfer may exist; query'),
  ...transportTable(
    'unknown',
    'the bank may have read the request; the Idempotency-Key makes a resend safe',
  ),
}
