import type { Decisions, LineIn, LiveMatch, MatchResult } from './match.js'
import { rejected as rejectedPair, startRun } from './match.js'

export interface BatchIn {
  id: string
  reference: string
  status: string
  currency: string
  netMinor: bigint
  /** When the transfer went out (ms). */
  sentAtMs: number
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

const byLine = (a: LineIn, b: LineIn) =>
  a.bookedAtMs - b.bookedAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/**
 * Matches bank statement credits to settlement batches in fixed passes, each batch and line used
 * at most once; the credit must equal the batch's net to the unit (gross − fees), else it is a
 * fee_mismatch, never a match.
 *
 * 1. batch_reference: the line carries `SETTLEMENT-…` (one credit, or several credits summing to
 *    the net: batch_split).
 * 2. batch_amount: a credit equal to one processing batch's net after it was sent, unique both ways.
 * 4. batch_many: one credit equal to the sum of a unique set of 2..maxGroup processing batches.
 * Processing batches with no credit after the grace period are `late`.
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

  // Pass 1: the settlement reference on the credit.
  const byRef = new Map<string, BatchIn>()
  for (const b of batches) byRef.set(b.reference.toUpperCase(), b)
  const groups = new Map<string, LineIn[]>()
  for (const l of lines) {
    if (usedLine.has(l.id)) continue
    const ref = SETTLEMENT_REF.exec(l.reference.toUpperCase())?.[0]
    const b = ref ? byRef.get(ref) : undefined
    if (!b || usedBatch.has(b.id) || rejected(l, b)) continue
    const g = groups.get(b.id) ?? []
    g.push(l)
    groups.set(b.id, g)
  }
  for (const b of batches) {
    const g = groups.get(b.id)
    if (!g) continue
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

  const open = () => batches.filter((b) => b.status === 'processing' && !usedBatch.has(b.id))
  const fits = (l: LineIn, b: BatchIn) =>
    b.currency === l.currency &&
    l.bookedAtMs >= b.sentAtMs - o.beforeMs &&
    l.bookedAtMs <= b.sentAtMs + o.graceMs &&
    !rejected(l, b)

  // Pass 2: a credit equal to one batch's net, unique both ways.
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
        take([l], [only], 'batch_amount', 'net and date, unique batch')
        continue
      }
      usedLine.add(l.id)
      findings.push({
        category: 'ambiguous',
        pass: 'batch_amount',
        rule:
          list.length > 1
            ? `${list.length} batches with this net`
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
    const cands = open().filter((b) => fits(l, b) && b.netMinor < l.amountMinor)
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
      rule: 'no settlement batch matches the credit',
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
    if (usedBatch.has(b.id) || b.status !== 'processing') continue
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
