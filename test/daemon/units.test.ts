import { describe, expect, it } from 'vitest'
import { bodyKey, keptHeaders, looseRef, redactCallbackBody } from '../../src/callbacks/inbox.js'
import { DshError } from '../../src/core/errors.js'
import { TtlCache } from '../../src/daemon/context.js'
import { errorReply, HttpError, httpStatusOf } from '../../src/daemon/http-errors.js'
import { createLogger, redactLine } from '../../src/daemon/log.js'
import { Metrics } from '../../src/daemon/metrics.js'
import { everyCron, ipAllowed, parseDaemonOptions } from '../../src/daemon/options.js'
import { createRouter } from '../../src/daemon/router.js'
import { nextCheckAt } from '../../src/payments/recovery.js'

describe('DshError kinds map to HTTP statuses in one place', () => {
  it.each([
    ['validation', 'x', 422],
    ['not_found', 'x', 404],
    ['conflict', 'x', 409],
    ['unavailable', 'x', 503],
    ['usage', 'x', 400],
    ['config', 'public_url_missing', 500],
    ['config', 'store_unreachable', 503],
    ['internal', 'x', 500],
  ] as const)('%s (%s) → %i', (kind, code, status) => {
    expect(httpStatusOf(new DshError(kind, code, 'm'))).toBe(status)
  })

  it('keeps code and hint, and never leaks an unexpected error', () => {
    expect(errorReply(new DshError('validation', 'bad', 'no', { hint: 'h' }))).toEqual({
      status: 422,
      headers: {},
      body: { error: { code: 'bad', message: 'no', hint: 'h' } },
    })
    expect(errorReply(new HttpError(401, 'unauthorized', 'who?')).status).toBe(401)
    const r = errorReply(new Error('SELECT * FROM secrets'))
    expect(r.status).toBe(500)
    expect(JSON.stringify(r)).not.toContain('secrets')
  })
})

describe('daemon options', () => {
  it('flags win over the environment, which wins over defaults', () => {
    const o = parseDaemonOptions(
      { port: '9001' },
      { DSH_DAEMON_PORT: '9002', DSH_DAEMON_HOST: '0.0.0.0', DSH_RECOVERY_SCHEDULE: '1s,2s' },
    )
    expect(o).toMatchObject({ port: 9001, host: '0.0.0.0', recoveryEveryMs: 5000 })
    expect(o.recovery.pendingMs).toEqual([1000, 2000])
    expect(o.recovery.unknownMs).toHaveLength(24)
    expect(o.unmatchedWindowMs).toBe(600_000)
  })

  it('refuses bad values as usage errors', () => {
    for (const f of [
      { port: '70000' },
      { recoveryInterval: '7s' },
      { recoveryInterval: '1h' },
      { mpesaAllowIps: '10.0.0.1/40' },
      { mpesaAllowIps: 'example.com' },
      { logLevel: 'loud' },
      { unmatchedWindow: 'soon' },
    ])
      expect(() => parseDaemonOptions(f, {}), JSON.stringify(f)).toThrow(
        expect.objectContaining({ kind: 'usage' }),
      )
  })

  it('cron from an interval, and the source allow-list', () => {
    expect(everyCron(5000)).toBe('*/5 * * * * *')
    expect(everyCron(120_000)).toBe('0 */2 * * * *')
    const list = ['196.201.214.0/24', '10.1.2.3']
    expect(ipAllowed(list, '196.201.214.207')).toBe(true)
    expect(ipAllowed(list, '::ffff:196.201.214.1')).toBe(true)
    expect(ipAllowed(list, '196.201.215.1')).toBe(false)
    expect(ipAllowed(list, '10.1.2.3')).toBe(true)
    expect(ipAllowed(list, '::1')).toBe(false)
    expect(ipAllowed([], undefined)).toBe(true)
  })
})

describe('secrets and tokens never reach the log', () => {
  it('redacts path tokens, bearer tokens and API tokens in every line', () => {
    const t = '0123456789abcdef0123456789abcdef'
    expect(redactLine(`POST /callbacks/mpesa/${t} and /callbacks/mpesa-kcb/${t}?x`)).toBe(
      'POST /callbacks/mpesa/[redacted] and /callbacks/mpesa-kcb/[redacted]?x',
    )
    expect(redactLine('route /callbacks/bank/:token')).toBe('route /callbacks/bank/:token')
    expect(redactLine('Authorization: Bearer abc.def')).toBe('Authorization: Bearer [redacted]')
    expect(redactLine(`x dsh_${'A'.repeat(43)} y`)).toBe('x dsh_[redacted] y')
    let out = ''
    const log = createLogger((s) => {
      out += s
    }, 'info')
    log.debug('hidden')
    log.info('request', { path: `/callbacks/mpesa/${t}` })
    log.flush()
    expect(out).not.toContain(t)
    expect(out).not.toContain('hidden')
    expect(JSON.parse(out)).toMatchObject({ level: 'info', msg: 'request' })
  })

  it('stores callback bodies with secrets redacted and phones masked', () => {
    const body = {
      Body: {
        stkCallback: {
          CallbackMetadata: {
            Item: [
              { Name: 'Amount', Value: 10 },
              { Name: 'PhoneNumber', Value: 254712345678 },
            ],
          },
        },
      },
      data: { object: { client_secret: 'pi_x_secret_y', phone: '+254712345678' } },
    }
    const r = JSON.stringify(redactCallbackBody(body))
    expect(r).not.toContain('254712345678')
    expect(r).toContain('254******678')
    expect(r).not.toContain('pi_x_secret_y')
    expect(r).toContain('"Amount","Value":10')
    expect(
      keptHeaders({
        'stripe-signature': 't=1,v1=ab',
        authorization: 'Bearer x',
        'user-agent': 'u',
      }),
    ).toEqual({
      'stripe-signature': '[redacted]',
      'user-agent': 'u',
    })
  })

  it('finds a reference in a body no adapter reads, and keys unknown bodies by digest', () => {
    expect(looseRef('mpesa', { Body: { stkCallback: { CheckoutRequestID: 'ws_CO_1' } } })).toBe(
      'ws_CO_1',
    )
    expect(looseRef('stripe', { data: { object: { id: 'pi_1' } } })).toBe('pi_1')
    expect(looseRef('square', { data: { object: { payment: { id: 'sq_1' } } } })).toBe('sq_1')
    expect(looseRef('mpesa', [1, 2])).toBeUndefined()
    expect(bodyKey('mpesa', '{}')).toBe(bodyKey('mpesa', '{}'))
    expect(bodyKey('mpesa', '{}')).not.toBe(bodyKey('mpesa', '{ }'))
  })
})

describe('small parts', () => {
  it('routes by pattern, answers 405 with the allowed methods', () => {
    const r = createRouter([
      { method: 'POST', pattern: '/callbacks/mpesa/:token', handler: async () => {} },
      { method: 'GET', pattern: '/api/payments/:id/status', handler: async () => {} },
    ])
    expect(r('POST', '/callbacks/mpesa/abc')).toMatchObject({
      kind: 'found',
      params: { token: 'abc' },
    })
    expect(r('GET', '/callbacks/mpesa/abc')).toEqual({ kind: 'method', allowed: ['POST'] })
    expect(r('POST', '/callbacks/mpesa/')).toEqual({ kind: 'none' })
    expect(r('GET', '/api/payments/p%201/status')).toMatchObject({ params: { id: 'p 1' } })
    expect(r('GET', '/api/payments/%E0%A4%A/status')).toEqual({ kind: 'none' })
  })

  it('caches for a short time and shares a concurrent load', async () => {
    const c = new TtlCache<number>(50)
    let loads = 0
    const load = async () => ++loads
    expect(await Promise.all([c.get('k', load), c.get('k', load)])).toEqual([1, 1])
    expect(await c.get('k', load)).toBe(1)
    // timer(clock): the cache's 50 ms lifetime runs on the wall clock it reads
    await new Promise((r) => setTimeout(r, 70))
    expect(await c.get('k', load)).toBe(2)
  })

  it('renders Prometheus text with cumulative histogram buckets', () => {
    const m = new Metrics()
    m.inc('dsh_callbacks_received_total', { gateway: 'mpesa' })
    m.inc('dsh_callbacks_received_total', { gateway: 'mpesa' })
    m.observe('/healthz', 'GET', 200, 0.004)
    const text = m.render(
      {
        payments: [],
        inbox: [],
        recoveryBacklog: 3,
        recoveryOverdue: 1,
        breakers: [],
        lastBackupAt: null,
        alertsOpen: [],
        settlementPending: [],
      },
      { jobsAlive: { recovery: true }, inflight: 0 },
    )
    expect(text).toContain('dsh_callbacks_received_total{gateway="mpesa"} 2')
    expect(text).toContain('dsh_recovery_backlog 3')
    expect(text).toContain('dsh_job_alive{job="recovery"} 1')
    expect(text).toContain(
      'dsh_http_request_duration_seconds_bucket{route="/healthz",method="GET",code="200",le="0.0025"} 0',
    )
    expect(text).toContain(
      'dsh_http_request_duration_seconds_bucket{route="/healthz",method="GET",code="200",le="0.005"} 1',
    )
    expect(text).toContain(
      'dsh_http_request_duration_seconds_bucket{route="/healthz",method="GET",code="200",le="+Inf"} 1',
    )
  })

  it('metrics: event-loop delay since the previous scrape (p50, p99, max), only while watched', async () => {
    const m = new Metrics()
    const gauges = {
      payments: [],
      inbox: [],
      recoveryBacklog: 0,
      recoveryOverdue: 0,
      breakers: [],
      lastBackupAt: null,
      alertsOpen: [],
      settlementPending: [],
    }
    const extra = { jobsAlive: {}, inflight: 0 }
    expect(m.render(gauges, extra)).not.toContain('dsh_event_loop_delay')
    const stop = m.watchEventLoop()
    try {
      // timer(clock): the event-loop monitor samples real time; these turns are what it measures
      await new Promise((r) => setTimeout(r, 50))
      const t = Date.now()
      while (Date.now() - t < 120) {}
      // timer(clock): a turn of the loop after the block, for the monitor to record it
      await new Promise((r) => setTimeout(r, 30))
      const text = m.render(gauges, extra)
      const max = Number(/^dsh_event_loop_delay_max_seconds (\S+)$/m.exec(text)?.[1])
      expect(max).toBeGreaterThanOrEqual(0.1)
      expect(text).toMatch(/^dsh_event_loop_delay_seconds\{quantile="0.99"\} \S+$/m)
      expect(text).toMatch(/^dsh_event_loop_delay_seconds\{quantile="0.5"\} \S+$/m)
      // The window starts afresh at each scrape: the 120 ms block is not seen again.
      // timer(clock): quiet loop turns for the monitor's next window
      await new Promise((r) => setTimeout(r, 50))
      const next = Number(
        /^dsh_event_loop_delay_max_seconds (\S+)$/m.exec(m.render(gauges, extra))?.[1],
      )
      expect(next).toBeLessThan(max)
      // A scrape that holds the loop itself (as a slow /metrics would) shows in the next one.
      m.render(gauges, extra)
      const t2 = Date.now()
      while (Date.now() - t2 < 120) {}
      // timer(clock): a turn of the loop after the block, for the monitor to record it
      await new Promise((r) => setTimeout(r, 30))
      const after = Number(
        /^dsh_event_loop_delay_max_seconds (\S+)$/m.exec(m.render(gauges, extra))?.[1],
      )
      expect(after).toBeGreaterThanOrEqual(0.1)
    } finally {
      stop()
    }
    expect(m.render(gauges, extra)).not.toContain('dsh_event_loop_delay')
  })

  it('the next recovery check is the first offset after now, none after the last', () => {
    expect(nextCheckAt([30_000, 60_000], 1000, 1000)).toBe(31_000)
    expect(nextCheckAt([30_000, 60_000], 1000, 31_000)).toBe(61_000)
    expect(nextCheckAt([30_000, 60_000], 1000, 61_000)).toBeNull()
  })
})
