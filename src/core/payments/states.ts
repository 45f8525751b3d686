import { DshError } from '../errors.js'

export const PAYMENT_STATUSES = [
  'created',
  'pending',
  'succeeded',
  'failed',
  'cancelled',
  'unknown',
  'needs_review',
  'refunded',
] as const
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number]

/**
 * The only legal moves. Final states never go back: a late failure never overrides a success,
 * and only a refund (later) leaves `succeeded`.
 */
const TRANSITIONS: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  created: ['pending', 'succeeded', 'failed', 'cancelled', 'unknown', 'needs_review'],
  pending: ['succeeded', 'failed', 'cancelled', 'unknown', 'needs_review'],
  unknown: ['pending', 'succeeded', 'failed', 'cancelled', 'needs_review'],
  needs_review: ['succeeded', 'failed', 'cancelled'],
  succeeded: ['refunded'],
  failed: [],
  cancelled: [],
  refunded: [],
}

export const FINAL_STATUSES: readonly PaymentStatus[] = [
  'succeeded',
  'failed',
  'cancelled',
  'refunded',
]
/** States a recovery job keeps asking the gateway about. */
export const OPEN_STATUSES: readonly PaymentStatus[] = ['created', 'pending', 'unknown']

export const isFinal = (s: PaymentStatus): boolean => FINAL_STATUSES.includes(s)

export const canMove = (from: PaymentStatus, to: PaymentStatus): boolean =>
  from === to || TRANSITIONS[from].includes(to)

/** Throws (an internal error: callers check canMove first where a move may be refused) on an illegal move. */
export function assertMove(from: PaymentStatus, to: PaymentStatus): void {
  if (!canMove(from, to)) {
    throw new DshError(
      'conflict',
      'illegal_transition',
      `a payment cannot go from ${from} to ${to}`,
    )
  }
}

export const isPaymentStatus = (s: string): s is PaymentStatus =>
  (PAYMENT_STATUSES as readonly string[]).includes(s)

/** Attempt states: written `sending` before the gateway is called, never re-sent. */
export type AttemptStatus =
  | 'sending'
  | 'pending'
  | 'succeeded'
  | 'failed'
  | 'unknown'
  | 'needs_review'
