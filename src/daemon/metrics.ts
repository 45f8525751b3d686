import { createHistogram, type RecordableHistogram } from 'node:perf_hooks'
import type { StoreGauges } from '../reports/gauges.js'

/** How often the event-loop sampler ticks (ms); a sample is the tick's lateness past this. */
const LOOP_RESOLUTION_MS = 10

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

type Labels = Record<string, string>

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
const fmt = (labels: Labels) => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`)
  return parts.length ? `{${parts.join(',')}}` : ''
}

interface Family {
  help: string
  type: 'counter' | 'gauge'
  values: Map<string, { labels: Labels; value: number }>
}

interface Histogram {
  labels: Labels
  counts: number[]
  sum: number
  count: number
}

/**
 * In-process counters and the request latency histogram; store-wide gauges (payments, inbox,
 * recovery backlog, breakers) are read at scrape time, so every process's work shows.
 */
export class Metrics {
  private families = new Map<string, Family>()
  private latency = new Map<string, Histogram>()
  private loop: RecordableHistogram | undefined

  constructor() {
    this.define('dsh_callbacks_received_total', 'counter', 'Verified callbacks stored in the inbox')
    this.define(
      'dsh_callbacks_duplicates_total',
      'counter',
      'Callbacks acknowledged as duplicates of a stored one (counted, not applied)',
    )
    this.define(
      'dsh_callbacks_rejected_total',
      'counter',
      'Callbacks refused before storing (bad token, signature, size, JSON)',
    )
    this.define('dsh_callbacks_processed_total', 'counter', 'Inbox entries processed, by result')
    this.define('dsh_jobs_runs_total', 'counter', 'Scheduled job ticks, by result')
  }

  /**
   * Samples the event loop's delay until the returned function is called: a timer ticking every
   * LOOP_RESOLUTION_MS records how late each tick is (what perf_hooks.monitorEventLoopDelay
   * measures, but into a histogram that can be reset without losing the sample that spans the
   * reset: a /metrics scrape that held the loop shows in the next scrape). /metrics shows the p50,
   * p99 and max since the previous scrape, then starts afresh (as prom-client does).
   */
  watchEventLoop(): () => void {
    const loop = createHistogram()
    let last = performance.now()
    const timer = setInterval(() => {
      const now = performance.now()
      loop.record(Math.max(1, Math.round((now - last - LOOP_RESOLUTION_MS) * 1e6)))
      last = now
    }, LOOP_RESOLUTION_MS)
    timer.unref()
    this.loop = loop
    return () => {
      clearInterval(timer)
      if (this.loop === loop) this.loop = undefined
    }
  }

  private define(name: string, type: Family['type'], help: string): void {
    this.families.set(name, { help, type, values: new Map() })
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    const f = this.families.get(name)
    if (!f) return
    let key = ''
    for (const k in labels) key += `${k}\u0000${labels[k]}\u0000`
    const v = f.values.get(key)
    if (v) v.value += by
    else f.values.set(key, { labels, value: by })
  }

  get(name: string, labels: Labels = {}): number {
    let key = ''
    for (const k in labels) key += `${k}\u0000${labels[k]}\u0000`
    return this.families.get(name)?.values.get(key)?.value ?? 0
  }

  observe(route: string, method: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`
    let h = this.latency.get(key)
    if (!h) {
      h = {
        labels: { route, method, code: String(status) },
        counts: BUCKETS.map(() => 0),
        sum: 0,
        count: 0,
      }
      this.latency.set(key, h)
    }
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) h.counts[i]!++
    h.sum += seconds
    h.count++
  }

  /** Prometheus text exposition format 0.0.4. */
  render(g: StoreGauges, extra: { jobsAlive: Record<string, boolean>; inflight: number }): string {
    const out: string[] = []
    const family = (
      name: string,
      type: string,
      help: string,
      rows: [Labels, number | bigint][],
    ) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
      for (const [l, v] of rows) out.push(`${name}${fmt(l)} ${v}`)
    }
    family(
      'dsh_payments',
      'gauge',
      'Payments in the store by status and gateway',
      g.payments.map((p) => [{ status: p.status, gateway: p.gateway }, p.count]),
    )
    family(
      'dsh_inbox_entries',
      'gauge',
      'Callback inbox entries by status and gateway',
      g.inbox.map((r) => [{ status: r.status, gateway: r.gateway }, r.count]),
    )
    const waiting = g.inbox
      .filter((r) => ['received', 'processing', 'unmatched'].includes(r.status))
      .reduce((n, r) => n + r.count, 0)
    family('dsh_inbox_depth', 'gauge', 'Callbacks stored but not yet processed to the end', [
      [{}, waiting],
    ])
    family('dsh_recovery_backlog', 'gauge', 'Open payments (created, pending, unknown)', [
      [{}, g.recoveryBacklog],
    ])
    family('dsh_recovery_overdue', 'gauge', 'Open payments whose next check is due', [
      [{}, g.recoveryOverdue],
    ])
    family(
      'dsh_alerts_open',
      'gauge',
      'Open alerts by code and branch (dsh health; empty branch: store-wide)',
      g.alertsOpen.map((a) => [{ code: a.code, branch: a.branch }, a.count]),
    )
    family(
      'dsh_settlement_pending_minor',
      'gauge',
      'Succeeded payments not yet settled, in minor units, per branch and currency',
      g.settlementPending.map((p) => [{ branch: p.branch, currency: p.currency }, p.amountMinor]),
    )
    if (g.lastBackupAt)
      family(
        'dsh_backup_last_success_timestamp_seconds',
        'gauge',
        'When the newest backup in $DSH_HOME/backups was taken (Unix seconds)',
        [[{}, Math.floor(g.lastBackupAt.getTime() / 1000)]],
      )
    const states = ['closed', 'open', 'half_open']
    family(
      'dsh_breaker_state',
      'gauge',
      'Circuit breaker state per branch and gateway (1 for the current state)',
      g.breakers.flatMap((b) =>
        states.map(
          (s) =>
            [{ branch: b.branch, gateway: b.gateway, state: s }, b.breaker === s ? 1 : 0] as [
              Labels,
              number,
            ],
        ),
      ),
    )
    family(
      'dsh_job_alive',
      'gauge',
      'Whether a scheduled job is running on time in this daemon',
      Object.entries(extra.jobsAlive).map(([job, ok]) => [{ job }, ok ? 1 : 0]),
    )
    family('dsh_http_requests_in_flight', 'gauge', 'Requests being served now', [
      [{}, extra.inflight],
    ])
    const loop = this.loop
    if (loop) {
      const late = (ns: number) => (loop.count === 0 ? 0 : ns / 1e9)
      family(
        'dsh_event_loop_delay_seconds',
        'gauge',
        'Event-loop delay since the previous scrape, by quantile',
        [0.5, 0.99].map((q) => [{ quantile: String(q) }, late(loop.percentile(q * 100))]),
      )
      family(
        'dsh_event_loop_delay_max_seconds',
        'gauge',
        'Longest event-loop delay since the previous scrape',
        [[{}, late(loop.max)]],
      )
      loop.reset()
    }
    for (const [name, f] of this.families)
      family(
        name,
        f.type,
        f.help,
        [...f.values.values()].map((v) => [v.labels, v.value]),
      )
    const h = 'dsh_http_request_duration_seconds'
    out.push(`# HELP ${h} Time to answer a request`, `# TYPE ${h} histogram`)
    for (const x of this.latency.values()) {
      for (const [i, b] of BUCKETS.entries())
        out.push(`${h}_bucket${fmt({ ...x.labels, le: String(b) })} ${x.counts[i]}`)
      out.push(`${h}_bucket${fmt({ ...x.labels, le: '+Inf' })} ${x.count}`)
      out.push(`${h}_sum${fmt(x.labels)} ${x.sum}`)
      out.push(`${h}_count${fmt(x.labels)} ${x.count}`)
    }
    return `${out.join('\n')}\n`
  }
}
