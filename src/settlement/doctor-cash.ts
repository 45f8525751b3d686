import type { allItems, batchesForCheck } from './batches-store.js'
import { CASH_DEPOSIT, CASH_GATEWAY, TRANSFER } from './view.js'

type B = Awaited<ReturnType<typeof batchesForCheck>>[number]
type I = Awaited<ReturnType<typeof allItems>>[number]
type P = { id: string; gateway?: string | null }

const CASH_UP_LIVE = new Set(['awaiting_deposit', 'deposited'])

/**
 * `dsh doctor`'s cash checks (cash is banked by the branch, never transferred):
 * - a cash transfer made before cash-ups that reached `processing` (a file written or a bank call
 *   made) may still pay the branch money it already holds: stop it at the bank, then cancel it;
 * - a cash payment is in at most one live cash-up, and a cash-up holds cash payments only,
 *   without fees, its figures its members' (no fee, net = gross).
 */
export function checkCash(
  batches: readonly B[],
  items: readonly I[],
  payments: readonly P[],
): string[] {
  const v: string[] = []
  const gatewayOf = new Map(payments.map((p) => [p.id, p.gateway ?? null]))
  const byId = new Map(batches.map((b) => [b.id, b]))
  for (const b of batches)
    if (b.kind === TRANSFER && b.gateway === CASH_GATEWAY && b.status === 'processing')
      v.push(
        b.transfer_adapter === 'http'
          ? `batch ${b.id} (${b.reference}) is a cash transfer sent to the bank API: cash is banked by the branch, not paid from the collection account; ask the bank to stop it, then \`dsh settlements fail ${b.id} --reason …\` once it has refused (or complete it if it was paid, and recover the money)`
          : `batch ${b.id} (${b.reference}) is a cash transfer in processing: cash is banked by the branch, not paid from the collection account; stop the transfer at the bank (or do not upload its file), then \`dsh settlements cancel ${b.id}\``,
      )
  const inCashUp = new Map<string, string>()
  for (const i of items) {
    const b = byId.get(i.batch_id)
    if (b?.kind !== CASH_DEPOSIT || !CASH_UP_LIVE.has(b.status) || i.released_at !== null) continue
    const other = inCashUp.get(i.payment_id)
    if (other) v.push(`cash payment ${i.payment_id} is in two live cash-ups: ${other} and ${b.id}`)
    inCashUp.set(i.payment_id, b.id)
    const g = gatewayOf.get(i.payment_id)
    if (g !== undefined && g !== CASH_GATEWAY)
      v.push(`cash-up ${b.id} (${b.reference}) holds payment ${i.payment_id} of gateway ${g}`)
    if (BigInt(i.fee_minor as unknown as string) !== 0n)
      v.push(
        `cash-up ${b.id} (${b.reference}) member ${i.payment_id} carries a fee of ${i.fee_minor}`,
      )
  }
  return v
}
