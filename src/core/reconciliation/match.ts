import { phoneDigitsAgree } from '../statements/canonical.js'

/** The contract's discrepancy categories, in report order. */
export const CATEGORIES = [
  'missing_in_statement',
  'missing_in_dsh',
  'amount_mismatch',
  'fee_mismatch',
  'duplicate_in_statement',
  'ambiguous',
  'late',
  'deposit_short',
  'deposit_over',
  'deposit_missing',
] as const
export type Category = (typeof CATEGORIES)[number]

export const SEVERITY: Readonly<Record<Category, 'critical' | 'high' | 'medium'>> = {
  missing_in_statement: 'critical',
  missing_in_dsh: 'high',
  amount_mismatch: 'high',
  fee_mismatch: 'high',
  duplicate_in_statement: 'medium',
  ambiguous: 'medium',
  late: 'medium',
  deposit_short: 'high',
  deposit_over: 'medium',
  deposit_missing: 'high',
}

/** Passes that match without a person: their matches count towards the auto-match rate. */
export const AUTO_PASSES = new Set([
  'exact_reference',
  'amount_time',
  'batch_reference',
  'batch_amount',
  'batch_split',
  'cash_reference',
  'cash_split',
  'cash_amount',
])

export interface LineIn {
  id: string
  bookedAtMs: number
  amountMinor: bigint
  currency: string
  transactionId: string | null
  reference: string
  counterparty: string
  /** Bank lines: the description, where a deposit reference (`CASH-…`) may be written. */
  description?: string | undefined
}

export interface PaymentIn {
  id: string
  status: string
  receiptNumber: string | null
  amountMinor: bigint
  currency: string
  createdAtMs: number
  phone: string | null
}

export interface LiveMatch {
  lineId: string
  paymentId: string | null
  batchId: string | null
  pass: string
}

export interface MatchOptions {
  /** A line may be booked this long before the payment was created (clock skew). */
  windowBeforeMs: number
  /** ... and this long after (the customer entering the PIN, a slow network). */
  windowAfterMs: number
  /** Pass 3: pair a unique candidate whose amount differs by at most this (0 = off) ... */
  toleranceMinor: bigint
  /** ... or by at most this many basis points of the payment. */
  toleranceBp: number
  /** Payments created inside these [from, to) intervals can be missing from the statements. */
  coverage: readonly (readonly [number, number])[]
}

export const DEFAULT_OPTIONS: MatchOptions = {
  windowBeforeMs: 2 * 60_000,
  windowAfterMs: 15 * 60_000,
  toleranceMinor: 0n,
  toleranceBp: 0,
  coverage: [],
}

export interface Decisions {
  ignoredLines: ReadonlySet<string>
  /** `${lineId}|${targetId}` pairs never to propose again. */
  rejectedPairs: ReadonlySet<string>
}

export interface NewMatch {
  lineId: string
  paymentId: string | null
  batchId: string | null
  pass: string
  rule: string
}

export interface Finding {
  category: Category
  pass: string
  rule: string
  lineId: string | null
  paymentId: string | null
  batchId: string | null
  expectedMinor: bigint
  actualMinor: bigint
  currency: string
  suggestion: string | null
}

export interface MatchResult {
  matches: NewMatch[]
  findings: Finding[]
  summary: {
    lines: number
    matched: number
    autoMatched: number
  }
}

const OPEN = new Set(['created', 'pending', 'unknown', 'needs_review'])

/** Upper case, without a copy when it already is (receipts are). */
const upper = (s: string) => (/[a-z]/.test(s) ? s.toUpperCase() : s)

/** Whether a person rejected the pair (no key is built when nobody rejected anything). */
export const rejected = (d: Decisions, lineId: string, targetId: string) =>
  d.rejectedPairs.size > 0 && d.rejectedPairs.has(`${lineId}|${targetId}`)

const byLine = (a: LineIn, b: LineIn) =>
  a.bookedAtMs - b.bookedAtMs ||
  (a.reference < b.reference ? -1 : a.reference > b.reference ? 1 : 0) ||
  (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
const byPayment = (a: PaymentIn, b: PaymentIn) =>
  a.createdAtMs - b.createdAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/**
 * What a matcher starts from: the credits it considers (not ignored), in its order, and what the
 * live matches already use (`target`: the payment or batch side). `count` records a matched line.
 */
export function startRun(
  linesIn: readonly LineIn[],
  live: readonly LiveMatch[],
  decisions: Decisions,
  target: 'paymentId' | 'batchId',
  order: (a: LineIn, b: LineIn) => number,
) {
  const lines = linesIn
    .filter((l) => l.amountMinor > 0n && !decisions.ignoredLines.has(l.id))
    .sort(order)
  const usedLine = new Set<string>()
  const summary = { lines: lines.length, matched: 0, autoMatched: 0 }
  const run = {
    lines,
    usedLine,
    usedTarget: new Set<string>(),
    matches: [] as NewMatch[],
    findings: [] as Finding[],
    summary,
    count(lineId: string, pass: string) {
      usedLine.add(lineId)
      summary.matched++
      if (AUTO_PASSES.has(pass)) summary.autoMatched++
    },
  }
  const lineIds = new Set(lines.map((l) => l.id))
  for (const m of live) {
    const t = m[target]
    if (!t) continue
    run.usedTarget.add(t)
    if (lineIds.has(m.lineId) && !usedLine.has(m.lineId)) run.count(m.lineId, m.pass)
  }
  return run
}

/** The criteria a payment must meet to be a line's candidate, in the order they are checked. */
export const CRITERIA = [
  'status',
  'receipt',
  'currency',
  'amount',
  'time window',
  'phone',
  'rejected',
] as const
export type Criterion = (typeof CRITERIA)[number]

/** The first criterion a payment fails as a candidate for a line (exact amount), or null. */
export function firstFailed(
  l: LineIn,
  p: PaymentIn,
  o: MatchOptions,
  d: Decisions,
  toleranceMinor = 0n,
): Criterion | null {
  if (p.status !== 'succeeded') return 'status'
  if (
    p.receiptNumber !== null &&
    l.transactionId !== null &&
    upper(p.receiptNumber) !== upper(l.transactionId)
  )
    return 'receipt'
  if (p.currency !== l.currency) return 'currency'
  const diff = l.amountMinor - p.amountMinor
  if ((diff < 0n ? -diff : diff) > toleranceMinor) return 'amount'
  if (
    l.bookedAtMs < p.createdAtMs - o.windowBeforeMs ||
    l.bookedAtMs > p.createdAtMs + o.windowAfterMs
  )
    return 'time window'
  if (!phoneDigitsAgree(l.counterparty, p.phone)) return 'phone'
  if (rejected(d, l.id, p.id)) return 'rejected'
  return null
}

const tolFor = (p: PaymentIn, o: MatchOptions): bigint => {
  const bp = o.toleranceBp > 0 ? (p.amountMinor * BigInt(o.toleranceBp)) / 10_000n : 0n
  return bp > o.toleranceMinor ? bp : o.toleranceMinor
}

/**
 * Matches M-Pesa statement credits to payments in fixed passes, each payment and line used at
 * most once; equal candidates give `ambiguous`, never a guess. The result does not depend on the
 * order of the inputs.
 *
 * 1. exact_reference: the line's Receipt No. is a payment's receipt number.
 * 2. amount_time: same amount and currency inside the time window, unique both ways (a line with
 *    one candidate payment that has no other candidate line): STK-query-resolved payments.
 * 3. tolerance: as 2 with the configured tolerance; the pair is reported as amount_mismatch.
 */
export function matchPayments(
  linesIn: readonly LineIn[],
  paymentsIn: readonly PaymentIn[],
  live: readonly LiveMatch[],
  decisions: Decisions,
  o: MatchOptions,
): MatchResult {
  const run = startRun(linesIn, live, decisions, 'paymentId', byLine)
  const { lines, usedLine, matches, findings } = run
  const usedPayment = run.usedTarget
  const payments = [...paymentsIn].sort(byPayment)
  const involved = new Set<string>()
  const succeeded = payments.filter((p) => p.status === 'succeeded')
  const byReceipt = new Map<string, PaymentIn>()
  for (const p of payments) if (p.receiptNumber) byReceipt.set(upper(p.receiptNumber), p)
  const match = (l: LineIn, p: PaymentIn, pass: string, rule: string) => {
    run.count(l.id, pass)
    usedPayment.add(p.id)
    matches.push({ lineId: l.id, paymentId: p.id, batchId: null, pass, rule })
  }
  const finding = (f: Omit<Finding, 'batchId'> & { batchId?: string | null }) =>
    findings.push({ batchId: null, ...f })
  /** The pair is used up and reported, not matched. */
  const settle = (l: LineIn, p: PaymentIn, f: Omit<Finding, 'batchId'>) => {
    usedLine.add(l.id)
    usedPayment.add(p.id)
    finding(f)
  }

  // Pass 1: exact receipt number.
  const seenTx = new Map<string, LineIn>()
  for (const l of lines) {
    if (!l.transactionId) continue
    const tx = upper(l.transactionId)
    const first = seenTx.get(tx)
    if (first) {
      usedLine.add(l.id)
      const p = byReceipt.get(tx)
      finding({
        category: 'duplicate_in_statement',
        pass: 'exact_reference',
        rule: 'transaction id repeated',
        lineId: l.id,
        paymentId: p?.id ?? null,
        expectedMinor: 0n,
        actualMinor: l.amountMinor,
        currency: l.currency,
        suggestion: `receipt ${l.transactionId} appears more than once in the statements (first ${first.id}); ask the provider, or \`dsh reconcile ignore ${l.id} --reason …\``,
      })
      continue
    }
    seenTx.set(tx, l)
    if (usedLine.has(l.id)) continue
    const p = byReceipt.get(tx)
    if (!p || usedPayment.has(p.id) || rejected(decisions, l.id, p.id)) continue
    if (p.status === 'succeeded') {
      if (p.currency === l.currency && p.amountMinor === l.amountMinor) {
        match(l, p, 'exact_reference', 'receipt number')
      } else {
        settle(l, p, {
          category: 'amount_mismatch',
          pass: 'exact_reference',
          rule: 'receipt number, amount differs',
          lineId: l.id,
          paymentId: p.id,
          expectedMinor: p.amountMinor,
          actualMinor: l.amountMinor,
          currency: l.currency,
          suggestion: `check the order; \`dsh reconcile confirm ${l.id} ${p.id} --reason …\` accepts the pair`,
        })
      }
    } else {
      settle(l, p, {
        category: 'missing_in_dsh',
        pass: 'exact_reference',
        rule: `receipt number of a ${p.status} payment`,
        lineId: l.id,
        paymentId: p.id,
        expectedMinor: 0n,
        actualMinor: l.amountMinor,
        currency: l.currency,
        suggestion: OPEN.has(p.status)
          ? `dsh reconcile adopt ${l.id} ${p.id}`
          : `payment ${p.id} is ${p.status} and cannot move; refund the customer or record the money by hand`,
      })
    }
  }

  // Passes 2 and 3: amount (exact, then within tolerance) and time, unique both ways.
  const pairsWithin = (tolerance: (p: PaymentIn) => bigint) => {
    const free = succeeded.filter((p) => !usedPayment.has(p.id))
    const cands = new Map<string, PaymentIn[]>()
    const back = new Map<string, LineIn[]>()
    for (const l of lines) {
      if (usedLine.has(l.id)) continue
      const list: PaymentIn[] = []
      for (const p of window(free, l, o)) {
        if (firstFailed(l, p, o, decisions, tolerance(p)) === null) list.push(p)
      }
      if (list.length === 0) continue
      cands.set(l.id, list)
      for (const p of list) {
        const b = back.get(p.id) ?? []
        b.push(l)
        back.set(p.id, b)
      }
    }
    return { cands, back }
  }
  const unique = (
    pass: string,
    tolerance: (p: PaymentIn) => bigint,
    onPair: (l: LineIn, p: PaymentIn) => void,
  ) => {
    const { cands, back } = pairsWithin(tolerance)
    for (const l of lines) {
      const list = cands.get(l.id)
      if (!list) continue
      const only = list.length === 1 ? list[0] : undefined
      if (only && (back.get(only.id)?.length ?? 0) === 1) {
        onPair(l, only)
        continue
      }
      usedLine.add(l.id)
      const rivals = new Set<string>()
      for (const p of list) {
        involved.add(p.id)
        for (const other of back.get(p.id) ?? []) if (other.id !== l.id) rivals.add(other.id)
      }
      finding({
        category: 'ambiguous',
        pass,
        rule:
          list.length > 1
            ? `${list.length} equal candidates`
            : 'the candidate fits other lines too',
        lineId: l.id,
        paymentId: null,
        expectedMinor: l.amountMinor,
        actualMinor: l.amountMinor,
        currency: l.currency,
        suggestion: `candidates: ${list.map((p) => p.id).join(', ')}${rivals.size > 0 ? `; also fitting lines ${[...rivals].sort().join(', ')}` : ''}; choose with \`dsh reconcile confirm ${l.id} <payment-id> --reason …\``,
      })
    }
  }
  unique(
    'amount_time',
    () => 0n,
    (l, p) => match(l, p, 'amount_time', 'amount and time, unique candidate'),
  )
  if (o.toleranceMinor > 0n || o.toleranceBp > 0)
    unique(
      'tolerance',
      (p) => tolFor(p, o),
      (l, p) => {
        settle(l, p, {
          category: 'amount_mismatch',
          pass: 'tolerance',
          rule: 'amount within tolerance and time, unique candidate',
          lineId: l.id,
          paymentId: p.id,
          expectedMinor: p.amountMinor,
          actualMinor: l.amountMinor,
          currency: l.currency,
          suggestion: `\`dsh reconcile confirm ${l.id} ${p.id} --reason …\` accepts the pair; \`reject\` refuses it`,
        })
      },
    )

  // What is left: money dsh does not know, and payments the statements do not show.
  const open = payments.filter((p) => OPEN.has(p.status))
  for (const l of lines) {
    if (usedLine.has(l.id)) continue
    const guesses = window(open, l, o).filter(
      (p) =>
        !usedPayment.has(p.id) &&
        p.currency === l.currency &&
        p.amountMinor === l.amountMinor &&
        firstFailed(l, { ...p, status: 'succeeded' }, o, decisions) === null,
    )
    const only = guesses.length === 1 ? guesses[0] : undefined
    finding({
      category: 'missing_in_dsh',
      pass: 'unmatched',
      rule: 'no payment matches the line',
      lineId: l.id,
      paymentId: only?.id ?? null,
      expectedMinor: 0n,
      actualMinor: l.amountMinor,
      currency: l.currency,
      suggestion: only
        ? `probably payment ${only.id} (${only.status}): dsh reconcile adopt ${l.id} ${only.id}`
        : guesses.length > 1
          ? `one of ${guesses.map((p) => p.id).join(', ')}: dsh reconcile adopt ${l.id} <payment-id>`
          : `money dsh does not know: find the order, or \`dsh reconcile ignore ${l.id} --reason …\``,
    })
  }
  for (const p of succeeded) {
    if (usedPayment.has(p.id) || involved.has(p.id)) continue
    if (!o.coverage.some(([from, to]) => p.createdAtMs >= from && p.createdAtMs < to)) continue
    finding({
      category: 'missing_in_statement',
      pass: 'unmatched',
      rule: 'succeeded payment not in the statement',
      lineId: null,
      paymentId: p.id,
      expectedMinor: p.amountMinor,
      actualMinor: 0n,
      currency: p.currency,
      suggestion:
        'dsh says succeeded but no money arrived: query the gateway (`dsh payments sync`) and the provider',
    })
  }
  return { matches, findings, summary: run.summary }
}

/** Payments (sorted by creation) whose creation time can fit the line's booking time. */
function window(sorted: readonly PaymentIn[], l: LineIn, o: MatchOptions): PaymentIn[] {
  const lo = l.bookedAtMs - o.windowAfterMs
  const hi = l.bookedAtMs + o.windowBeforeMs
  let a = 0
  let b = sorted.length
  while (a < b) {
    const mid = (a + b) >> 1
    if ((sorted[mid] as PaymentIn).createdAtMs < lo) a = mid + 1
    else b = mid
  }
  const out: PaymentIn[] = []
  for (let i = a; i < sorted.length; i++) {
    const p = sorted[i] as PaymentIn
    if (p.createdAtMs > hi) break
    out.push(p)
  }
  return out
}
