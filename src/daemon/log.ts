import { maskUrlsIn } from '../core/url-mask.js'

export type Level = 'debug' | 'info' | 'warn' | 'error'
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 }
export const LEVELS = Object.keys(RANK) as Level[]

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
  enabled(level: Level): boolean
  /** Writes what is buffered now (before exit). */
  flush(): void
}

/**
 * Path tokens, bearer tokens and API tokens never reach the log, whatever a message contains:
 * every line goes through this before it is written.
 */
export function redactLine(line: string): string {
  return maskUrlsIn(line)
    .replace(/(\/callbacks\/(?:mpesa-kcb|mpesa|bank)\/)[^/\s"?#:][^/\s"?#]*/g, '$1[redacted]')
    .replace(/(Bearer\s+)[^\s"]+/gi, '$1[redacted]')
    .replace(/dsh_[A-Za-z0-9_-]{20,}/g, 'dsh_[redacted]')
}

/**
 * JSON lines (`{"time","level","msg",…}`) on a stream, redacted, buffered within one turn of
 * the event loop so a burst of requests costs one write.
 */
export function createLogger(
  write: (text: string) => void,
  level: Level,
  now: () => Date = () => new Date(),
): Logger {
  let buffer = ''
  let scheduled = false
  const flush = () => {
    scheduled = false
    if (!buffer) return
    const out = buffer
    buffer = ''
    write(out)
  }
  const log = (l: Level, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[l] < RANK[level]) return
    const entry: Record<string, unknown> = { time: now().toISOString(), level: l, msg }
    if (fields)
      for (const [k, v] of Object.entries(fields))
        entry[k] =
          v instanceof Error ? v.message : typeof v === 'bigint' ? v.toString() : (v as unknown)
    buffer += `${redactLine(JSON.stringify(entry))}\n`
    if (buffer.length > 65_536) flush()
    else if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  }
  return {
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
    enabled: (l) => RANK[l] >= RANK[level],
    flush,
  }
}
