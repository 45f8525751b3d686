import { configError, DshError, notFound, usageError } from '../core/errors.js'

export interface WatchOptions {
  /** The daemon's base URL (--url, DSH_DAEMON_URL). */
  url: string
  /** A bearer token (--token, DSH_TOKEN). */
  token: string
  branch?: string | undefined
  /** Resume after this event number. */
  lastEventId?: number | undefined
  /** Stops the stream (SIGTERM). */
  signal: AbortSignal
  /** Called for each event (its `data:` parsed). */
  onEvent(event: Record<string, unknown>, id: number | undefined): void
  /** Diagnostics (reconnecting…) for stderr. */
  onInfo(message: string): void
  /** Waits between reconnects (default 1 s, doubling to 10 s). */
  retryMs?: number
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => {
      clearTimeout(t)
      resolve()
    })
  })

/**
 * Follows `GET /api/events` (server-sent events) until `signal` aborts, reconnecting with
 * `Last-Event-ID` so nothing is missed or repeated. A refused token (401/403) or an unknown branch
 * (404) stops it; an unreachable daemon before the first connection stops it too (exit 6).
 */
export async function watchEvents(o: WatchOptions): Promise<void> {
  let base: URL
  try {
    base = new URL('/api/events', o.url)
  } catch {
    throw usageError('invalid_url', `--url "${o.url}" is not a URL`, 'e.g. http://127.0.0.1:8080')
  }
  if (o.branch) base.searchParams.set('branch', o.branch)
  let last = o.lastEventId
  let connectedOnce = false
  let delay = o.retryMs ?? 1_000
  while (!o.signal.aborted) {
    let res: Response
    try {
      res = await fetch(base, {
        headers: {
          authorization: `Bearer ${o.token}`,
          accept: 'text/event-stream',
          ...(last !== undefined ? { 'last-event-id': String(last) } : {}),
        },
        signal: o.signal,
      })
    } catch (err) {
      if (o.signal.aborted) return
      if (!connectedOnce)
        throw new DshError(
          'unavailable',
          'daemon_unreachable',
          `cannot reach the daemon at ${o.url}: ${(err as Error).message}`,
          { hint: 'start it with `dsh daemon`, or point --url / DSH_DAEMON_URL at it' },
        )
      o.onInfo(`dsh watch: connection lost (${(err as Error).message}); retrying`)
      await sleep(delay, o.signal)
      delay = Math.min(delay * 2, 10_000)
      continue
    }
    if (res.status === 401 || res.status === 403)
      throw configError(
        'token_refused',
        `the daemon refused the token (HTTP ${res.status})`,
        'give a live token with --token or DSH_TOKEN (`dsh token create`)',
      )
    if (res.status === 404) throw notFound('branch_not_found', `no branch "${o.branch}"`)
    if (res.status !== 200 || !res.body) {
      if (!connectedOnce)
        throw new DshError(
          'unavailable',
          'daemon_error',
          `the daemon answered HTTP ${res.status} to GET /api/events`,
        )
      await sleep(delay, o.signal)
      continue
    }
    connectedOnce = true
    delay = o.retryMs ?? 1_000
    try {
      last = await readStream(res.body, last, o)
    } catch (err) {
      if (o.signal.aborted) return
      o.onInfo(`dsh watch: stream ended (${(err as Error).message}); reconnecting`)
    }
    if (!o.signal.aborted) await sleep(delay, o.signal)
  }
}

async function readStream(
  body: ReadableStream<Uint8Array>,
  last: number | undefined,
  o: WatchOptions,
): Promise<number | undefined> {
  const decoder = new TextDecoder()
  let buffer = ''
  let id: number | undefined
  let data: string[] = []
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true })
    let nl = buffer.indexOf('\n')
    while (nl >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, '')
      buffer = buffer.slice(nl + 1)
      nl = buffer.indexOf('\n')
      if (line === '') {
        if (data.length > 0) {
          try {
            o.onEvent(JSON.parse(data.join('\n')) as Record<string, unknown>, id)
          } catch {
            o.onInfo('dsh watch: skipped an event that is not JSON')
          }
          if (id !== undefined) last = id
        }
        data = []
        id = undefined
      } else if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
      else if (line.startsWith('id:')) {
        const n = Number(line.slice(3).trim())
        if (Number.isSafeInteger(n)) id = n
      }
    }
  }
  return last
}
