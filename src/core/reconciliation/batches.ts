import { formatMoney } from '../money/format.js'
import type { Decisions, Finding, LineIn, LiveMatch, MatchResult } from './match.js'
import { rejected as rejectedPair, startRun } from './match.js'

export interface BatchIn {
  id: string
  /** `transfer`, or `cash_deposit`: a cash-up the branch banks (netMinor is the expected deposit). */
  kind?: string | undefined
  reference: string
  status: string
  currency: string
  netMinor: bigint
  /** When the transfer went out (ms). */
  sentAtMs: number
  /** A cash-up's period cut-off (ms): its deposit is banked from then to the grace after. */
  cutoffMs?: number | undefined
}

export interface BatchOptions {
  /** A credit may be booked this long before the transfer was recorded (clock, cut-off). */
  beforeMs: number
  /** ... and up to this long after it (bank delays); also the `late` grace. */
  graceMs: number
  nowMs: number
  /** Batches sent inside these [from, to) intervals can be `late`. */
  coverage: readonly (readonly [number, number])[]
  /** Pass 4 tries sets of at most this many batches for one credit. */
  maxGroup: number
}

export const SETTLEMENT_REF = /SETTLEMENT-[0-9A-Z]{10}/
export const CASH_REF = /CASH-[0-9A-Z]{10}/

const isCash = (b: BatchIn) => b.kind === 'cash_deposit'

/** The first `re` token of the line's reference, else of its description (upper case). */
const tokenOf = (re: RegExp, l: LineIn): string | undefined =>
  re.exec(l.reference.toUpperCase())?.[0] ??
  (l.description ? re.exec(l.description.toUpperCase())?.[0] : undefined)

const byLine = (a: LineIn, b: LineIn) =>
  a.bookedAtMs - b.bookedAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/**
 * Matches bank statement credits to settlement batches and cash-ups in fixed passes, each batch,
 * cash-up and line used at most once; the credit must equal the batch's net to the unit (gross −
 * fees), else it is a fee_mismatch, never a match; a deposit must equal its cash-up's expected
 * cash, else it is deposit_short or deposit_over.
 *
 * 1. batch_reference: the line carries `SETTLEMENT-…` (one credit, or several credits summing to
 *    the net: batch_split); cash_reference: it carries `CASH-…` (cash_split for several).
 * 2. batch_amount: a credit equal to one processing batch's net after it was sent; cash_amount: a
 *    credit equal to one awaiting cash-up's expected cash, booked from its cut-off to the grace
 *    after; unique both ways across batches and cash-ups together. A credit carrying `CASH-…` is
 *    never a batch's candidate, one carrying `SETTLEMENT-…` never a cash-up's.
 * 4. batch_many: one credit equal to the sum of a unique set of 2..maxGroup processing batches.
 * Processing batches with no credit after the grace period are `late`; cash-ups with no deposit
 * from their cut-off to the grace after are `deposit_missing`.
 */
export function matchBatches(
  linesIn: readonly LineIn[],
  batchesIn: readonly BatchIn[],
  live: readonly LiveMatch[],
  decisions: Decisions,
  o: BatchOptions,
): MatchResult {
  const run = startRun(linesIn, live, decisions, 'batchId', byLine)
  const { lines, usedLine, matches, findings } = run
  const usedBatch = run.usedTarget
  const batches = [...batchesIn].sort((a, b) => a.sentAtMs - b.sentAtMs || (a.id < b.id ? -1 : 1))
  const rejected = (l: LineIn, b: BatchIn) => rejectedPair(decisions, l.id, b.id)
  const take = (ls: LineIn[], bs: BatchIn[], pass: string, rule: string) => {
    for (const l of ls) {
      run.count(l.id, pass)
      for (const b of bs) matches.push({ lineId: l.id, paymentId: null, batchId: b.id, pass, rule })
    }
    for (const b of bs) usedBatch.add(b.id)
  }

  // What a credit carries: a settlement reference is never a cash-up's, a deposit reference
  // (`CASH-…`) never a transfer's.
  const settlementRef = new Map<string, string | undefined>()
  const cashRef = new Map<string, string | undefined>()
  for (const l of lines) {
    const sref = SETTLEMENT_REF.exec(l.reference.toUpperCase())?.[0]
    settlementRef.set(l.id, sref ?? tokenOf(SETTLEMENT_REF, l))
    cashRef.set(l.id, sref ? undefined : tokenOf(CASH_REF, l))
  }

  // Pass 1: the settlement reference (a transfer) or the deposit reference (a cash-up) on the credit.
  const byRef = new Map<string, BatchIn>()
  for (const b of batches) byRef.set(b.reference.toUpperCase(), b)
  const groups = new Map<string, LineIn[]>()
  for (const l of lines) {
    if (usedLine.has(l.id)) continue
    const sref = SETTLEMENT_REF.exec(l.reference.toUpperCase())?.[0]
    const cref = cashRef.get(l.id)
    const b = sref ? byRef.get(sref) : cref ? byRef.get(cref) : undefined
    if (!b || usedBatch.has(b.id) || rejected(l, b)) continue
    if (isCash(b) !== (cref !== undefined && !sref)) continue
    const g = groups.get(b.id) ?? []
    g.push(l)
    groups.set(b.id, g)
  }
  for (const b of batches) {
    const g = groups.get(b.id)
    if (!g) continue
    if (isCash(b)) {
      const f = depositByReference(b, g)
      if (f) {
        for (const l of g) usedLine.add(l.id)
        usedBatch.add(b.id)
        findings.push(f)
      } else
        take(
          g,
          [b],
          g.length === 1 ? 'cash_reference' : 'cash_split',
          g.length === 1
            ? 'deposit reference, the expected cash to the unit'
            : `deposit reference on ${g.length} credits summing to the expected cash`,
        )
      continue
    }
    const total = g.reduce((s, l) => s + l.amountMinor, 0n)
    const sameCurrency = g.every((l) => l.currency === b.currency)
    if (sameCurrency && total === b.netMinor) {
      take(
        g,
        [b],
        g.length === 1 ? 'batch_reference' : 'batch_split',
        g.length === 1
          ? 'settlement reference, net to the unit'
          : `settlement reference on ${g.length} credits summing to the net`,
      )
      continue
    }
    for (const l of g) usedLine.add(l.id)
    usedBatch.add(b.id)
    const first = g[0] as LineIn
    findings.push({
      category: 'fee_mismatch',
      pass: 'batch_reference',
      rule: sameCurrency
        ? 'settlement reference, credit differs from the net'
        : 'settlement reference, currency differs',
      lineId: first.id,
      paymentId: null,
      batchId: b.id,
      expectedMinor: b.netMinor,
      actualMinor: total,
      currency: b.currency,
      suggestion: `the bank paid ${total < b.netMinor ? 'less' : 'more'} than the batch's net (gross − fees): check the fees with the bank; \`dsh reconcile confirm ${first.id} ${b.id} --reason …\` accepts it`,
    })
  }

  const open = () =>
    batches.filter(
      (b) => b.status === (isCash(b) ? 'awaiting_deposit' : 'processing') && !usedBatch.has(b.id),
    )
  const openTransfers = () => open().filter((b) => !isCash(b))
  /** A transfer's credit comes around when it was sent; a deposit from the cut-off to the grace. */
  const fits = (l: LineIn, b: BatchIn) => {
    if (b.currency !== l.currency || rejected(l, b)) return false
    if (isCash(b)) {
      const from = b.cutoffMs ?? b.sentAtMs
      return !settlementRef.get(l.id) && l.bookedAtMs >= from && l.bookedAtMs <= from + o.graceMs
    }
    return (
      !cashRef.get(l.id) &&
      l.bookedAtMs >= b.sentAtMs - o.beforeMs &&
      l.bookedAtMs <= b.sentAtMs + o.graceMs
    )
  }

  // Pass 2: a credit equal to one batch's net or one cash-up's expected cash, unique both ways
  // across both.
  {
    const free = open()
    const cands = new Map<string, BatchIn[]>()
    const back = new Map<string, LineIn[]>()
    for (const l of lines) {
      if (usedLine.has(l.id)) continue
      const list = free.filter((b) => b.netMinor === l.amountMinor && fits(l, b))
      if (list.length === 0) continue
      cands.set(l.id, list)
      for (const b of list) back.set(b.id, [...(back.get(b.id) ?? []), l])
    }
    for (const l of lines) {
      const list = cands.get(l.id)
      if (!list) continue
      const only = list.length === 1 ? list[0] : undefined
      if (only && back.get(only.id)?.length === 1) {
        if (isCash(only))
          take([l], [only], 'cash_amount', 'expected cash, after the cut-off, unique cash-up')
        else take([l], [only], 'batch_amount', 'net and date, unique batch')
        continue
      }
      usedLine.add(l.id)
      findings.push({
        category: 'ambiguous',
        pass: 'batch_amount',
        rule:
          list.length > 1
            ? `${list.length} batches or cash-ups with this amount`
            : 'the batch fits other credits too',
        lineId: l.id,
        paymentId: null,
        batchId: null,
        expectedMinor: l.amountMinor,
        actualMinor: l.amountMinor,
        currency: l.currency,
        suggestion: `candidates: ${list.map((b) => b.id).join(', ')}; choose with \`dsh reconcile confirm ${l.id} <batch-id> --reason …\``,
      })
    }
  }

  // Pass 4: one credit paying several batches (a bank that pools transfers), unique set only.
  for (const l of lines) {
    if (usedLine.has(l.id)) continue
    const cands = openTransfers().filter((b) => fits(l, b) && b.netMinor < l.amountMinor)
    if (cands.length < 2 || cands.length > 20) continue
    const found: BatchIn[][] = []
    const pick = (start: number, chosen: BatchIn[], sum: bigint) => {
      if (found.length > 1) return
      if (sum === l.amountMinor && chosen.length >= 2) {
        found.push([...chosen])
        return
      }
      if (chosen.length === o.maxGroup || sum >= l.amountMinor) return
      for (let i = start; i < cands.length; i++) {
        const b = cands[i] as BatchIn
        chosen.push(b)
        pick(i + 1, chosen, sum + b.netMinor)
        chosen.pop()
      }
    }
    pick(0, [], 0n)
    if (found.length === 1) {
      const set = found[0] as BatchIn[]
      take([l], set, 'batch_many', `one credit paying ${set.length} batches`)
    }
  }

  for (const l of lines) {
    if (usedLine.has(l.id)) continue
    findings.push({
      category: 'missing_in_dsh',
      pass: 'unmatched',
      rule: cashRef.get(l.id)
        ? 'no open cash-up has this deposit reference'
        : 'no settlement batch matches the credit',
      lineId: l.id,
      paymentId: null,
      batchId: null,
      expectedMinor: 0n,
      actualMinor: l.amountMinor,
      currency: l.currency,
      suggestion: `money dsh does not know: find its source, or \`dsh reconcile ignore ${l.id} --reason …\``,
    })
  }
  for (const b of batches) {
    if (!isCash(b) || usedBatch.has(b.id) || b.status !== 'awaiting_deposit') continue
    const from = b.cutoffMs ?? b.sentAtMs
    if (o.nowMs - from <= o.graceMs) continue
    // Its deposit was due between the cut-off and the end of the grace: the statements must cover it.
    if (!o.coverage.some(([f, to]) => from < to && from + o.graceMs >= f)) continue
    findings.push({
      category: 'deposit_missing',
      pass: 'unmatched',
      rule: 'cash-up with no deposit after the grace period',
      lineId: null,
      paymentId: null,
      batchId: b.id,
      expectedMinor: b.netMinor,
      actualMinor: 0n,
      currency: b.currency,
      suggestion: `ask the branch for the deposit slip of ${b.reference} (${formatMoney({ minor: b.netMinor, currency: b.currency })}); \`dsh settlements show ${b.id}\``,
    })
  }
  for (const b of batches) {
    if (isCash(b) || usedBatch.has(b.id) || b.status !== 'processing') continue
    if (o.nowMs - b.sentAtMs <= o.graceMs) continue
    // Its credit was due between sending and the end of the grace: that must meet the statements.
    if (!o.coverage.some(([from, to]) => b.sentAtMs < to && b.sentAtMs + o.graceMs >= from))
      continue
    findings.push({
      category: 'late',
      pass: 'unmatched',
      rule: 'processing batch with no credit after the grace period',
      lineId: null,
      paymentId: null,
      batchId: b.id,
      expectedMinor: b.netMinor,
      actualMinor: 0n,
      currency: b.currency,
      suggestion: `ask the bank about ${b.reference}; \`dsh settlements show ${b.id}\``,
    })
  }
  return { matches, findings, summary: run.summary }
}

/**
 * Credits carrying a cash-up's deposit reference: none when they sum to the expected cash (a
 * match), else the finding: `deposit_short` (the branch banked less than it took in cash) or
 * `deposit_over` (more), naming the difference.
 */
function depositByReference(b: BatchIn, g: readonly LineIn[]): Finding | null {
  const total = g.reduce((s, l) => s + l.amountMinor, 0n)
  const sameCurrency = g.every((l) => l.currency === b.currency)
  if (sameCurrency && total === b.netMinor) return null
  const first = g[0] as LineIn
  const short = total < b.netMinor
  const diff = short ? b.netMinor - total : total - b.netMinor
  const money = (minor: bigint) => formatMoney({ minor, currency: b.currency })
  return {
    category: short ? 'deposit_short' : 'deposit_over',
    pass: 'cash_reference',
    rule: sameCurrency
      ? `deposit reference, the deposit is ${money(diff)} ${short ? 'short of' : 'over'} the expected cash`
      : 'deposit reference, currency differs',
    lineId: first.id,
    paymentId: null,
    batchId: b.id,
    expectedMinor: b.netMinor,
    actualMinor: total,
    currency: b.currency,
    suggestion: short
      ? `${b.reference} expected ${money(b.netMinor)} but ${money(total)} was banked: ${money(diff)} of cash is missing; count the till and ask the branch; \`dsh reconcile confirm ${first.id} ${b.id} --reason …\` accepts it`
      : `${b.reference} expected ${money(b.netMinor)} but ${money(total)} was banked: ${money(diff)} more than the cash taken; check for unrecorded cash sales; \`dsh reconcile confirm ${first.id} ${b.id} --reason …\` accepts it`,
  }
}
