/**
 * Circuit breaker per branch × gateway (pure logic; the store keeps the state so every process
 * shares it). Only gateway faults count: timeouts, 5xx, connection errors. Customer outcomes
 * (cancelled, wrong PIN, insufficient funds) are successes as far as gateway health goes.
 */
export type BreakerState = 'closed' | 'open' | 'half_open'

export interface Breaker {
  state: BreakerState
  consecutiveFaults: number
  /** When it opened (ms since epoch), or when the half-open probe started. */
  changedAtMs: number
}

export interface BreakerSettings {
  /** Consecutive faults that open it. */
  threshold: number
  /** How long it stays open before one probe is let through. */
  cooldownMs: number
}

export const DEFAULT_BREAKER: BreakerSettings = { threshold: 5, cooldownMs: 30_000 }

export const closedBreaker = (): Breaker => ({
  state: 'closed',
  consecutiveFaults: 0,
  changedAtMs: 0,
})

export type Admission =
  | { allowed: true; probe: boolean; next: Breaker }
  | { allowed: false; retryAtMs: number }

/**
 * May a call go through now? Open → refused until the cool-down ends, then exactly one probe
 * (half-open); while a probe is out, others are refused until it reports or a cool-down passes.
 */
export function admit(b: Breaker, nowMs: number, s: BreakerSettings): Admission {
  if (b.state === 'closed') return { allowed: true, probe: false, next: b }
  const until = b.changedAtMs + s.cooldownMs
  if (nowMs < until) return { allowed: false, retryAtMs: until }
  return {
    allowed: true,
    probe: true,
    next: { state: 'half_open', consecutiveFaults: b.consecutiveFaults, changedAtMs: nowMs },
  }
}

/** The state after a call's result. */
export function record(b: Breaker, fault: boolean, nowMs: number, s: BreakerSettings): Breaker {
  if (!fault) return closedBreaker()
  const faults = b.consecutiveFaults + 1
  if (b.state === 'half_open' || faults >= s.threshold)
    return { state: 'open', consecutiveFaults: faults, changedAtMs: nowMs }
  return { state: b.state, consecutiveFaults: faults, changedAtMs: b.changedAtMs }
}
