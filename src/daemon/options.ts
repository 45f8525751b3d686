import { usageError } from '../core/errors.js'
import {
  DEFAULT_RECOVERY,
  parseDuration,
  parseSchedule,
  type RecoverySchedule,
} from '../payments/recovery.js'
import { type AddressSet, DEFAULT_TRUSTED_PROXIES, parseAddressSet } from './client-address.js'
import { LEVELS, type Level } from './log.js'

/** Everything `dsh daemon` is configured with (flags win over the environment over defaults). */
export interface DaemonOptions {
  host: string
  port: number
  /** Stored as the `public-url` setting when given, so every process builds the same URLs. */
  publicUrl: string | undefined
  recovery: RecoverySchedule
  /** How often the recovery job runs (a six-field cron expression is derived from it). */
  recoveryEveryMs: number
  /** How long an unmatched callback is retried before it is orphaned. */
  unmatchedWindowMs: number
  /** Daraja source addresses allowed (IPs or CIDR networks); empty: any. */
  mpesaAllowIps: string[]
  /** Take the caller's address from X-Forwarded-For (behind a reverse proxy). */
  trustProxy: boolean
  /**
   * The peers whose X-Forwarded-For is read (with trustProxy): the proxies in front of the
   * daemon. Default 127.0.0.0/8 and ::1.
   */
  trustedProxies: AddressSet
  /** How long SIGTERM waits for in-flight work. */
  shutdownTimeoutMs: number
  logLevel: Level
  headersTimeoutMs: number
  requestTimeoutMs: number
}

export interface DaemonFlags {
  host?: string | undefined
  port?: string | undefined
  publicUrl?: string | undefined
  recoverySchedule?: string | undefined
  unknownSchedule?: string | undefined
  recoveryInterval?: string | undefined
  unmatchedWindow?: string | undefined
  mpesaAllowIps?: string | undefined
  trustProxy?: boolean | undefined
  trustedProxies?: string | undefined
  shutdownTimeout?: string | undefined
  logLevel?: string | undefined
}

/** The flag's value, else the environment variable's. */
const pick = (flag: string | undefined, env: string | undefined) =>
  flag !== undefined && flag !== '' ? flag : env !== undefined && env !== '' ? env : undefined

export function parseDaemonOptions(
  f: DaemonFlags,
  env: Readonly<Record<string, string | undefined>>,
): DaemonOptions {
  const host = pick(f.host, env['DSH_DAEMON_HOST']) ?? '127.0.0.1'
  const portText = pick(f.port, env['DSH_DAEMON_PORT']) ?? '8080'
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65_535)
    throw usageError('invalid_port', `--port must be 0 to 65535, not "${portText}"`)
  const schedule = pick(f.recoverySchedule, env['DSH_RECOVERY_SCHEDULE'])
  const unknown = pick(f.unknownSchedule, env['DSH_UNKNOWN_SCHEDULE'])
  const every = parseDuration(
    pick(f.recoveryInterval, env['DSH_RECOVERY_INTERVAL']) ?? '5s',
    '--recovery-interval',
  )
  if (
    !(
      every % 1000 === 0 &&
      (every < 60_000
        ? 60_000 % every === 0
        : every < 3_600_000 && every % 60_000 === 0 && 3_600_000 % every === 0)
    )
  )
    throw usageError(
      'invalid_interval',
      '--recovery-interval must divide a minute (1s, 2s, 5s, 10s, 15s, 30s) or an hour (1m, 2m, 5m …)',
    )
  const allow = addressList(pick(f.mpesaAllowIps, env['DSH_MPESA_ALLOW_IPS']) ?? '')
  addressSet(allow, '--mpesa-allow-ips')
  const proxiesText = pick(f.trustedProxies, env['DSH_TRUSTED_PROXIES'])
  const proxies = addressSet(
    proxiesText === undefined ? DEFAULT_TRUSTED_PROXIES : addressList(proxiesText),
    '--trusted-proxies',
  )
  const level = (pick(f.logLevel, env['DSH_LOG_LEVEL']) ?? 'info') as Level
  if (!LEVELS.includes(level))
    throw usageError('invalid_log_level', `--log-level must be one of ${LEVELS.join(', ')}`)
  // Naming the proxies says there are some: it turns X-Forwarded-For on as --trust-proxy does.
  const trust =
    f.trustProxy === true ||
    ['1', 'true', 'yes'].includes(env['DSH_TRUST_PROXY'] ?? '') ||
    proxiesText !== undefined
  return {
    host,
    port: Number(portText),
    publicUrl: pick(f.publicUrl, env['DSH_PUBLIC_URL']),
    recovery: {
      pendingMs: schedule
        ? parseSchedule(schedule, '--recovery-schedule')
        : DEFAULT_RECOVERY.pendingMs,
      unknownMs: unknown
        ? parseSchedule(unknown, '--unknown-schedule')
        : DEFAULT_RECOVERY.unknownMs,
    },
    recoveryEveryMs: every,
    unmatchedWindowMs: parseDuration(
      pick(f.unmatchedWindow, env['DSH_UNMATCHED_WINDOW']) ?? '10m',
      '--unmatched-window',
    ),
    mpesaAllowIps: allow,
    trustProxy: trust,
    trustedProxies: proxies,
    shutdownTimeoutMs: parseDuration(
      pick(f.shutdownTimeout, env['DSH_SHUTDOWN_TIMEOUT']) ?? '10s',
      '--shutdown-timeout',
    ),
    logLevel: level,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
  }
}

/** A six-field node-cron expression for "every N seconds/minutes". */
export function everyCron(ms: number): string {
  if (ms < 60_000) return `*/${ms / 1000} * * * * *`
  return `0 */${ms / 60_000} * * * *`
}

const addressList = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)

function addressSet(entries: readonly string[], flag: string): AddressSet {
  const set = parseAddressSet(entries)
  if ('bad' in set)
    throw usageError(
      'invalid_ip',
      `${flag}: "${set.bad}" is not an IP address or a network (e.g. 10.0.0.0/8, fd00::/8)`,
    )
  return set
}

/** Whether `addr` is allowed by the list (IPs and networks, v4 or v6; ::ffff: forms unwrapped). */
export function ipAllowed(list: readonly string[], addr: string | undefined): boolean {
  if (list.length === 0) return true
  let set = parsedLists.get(list)
  if (!set) {
    set = parseAddressSet(list)
    parsedLists.set(list, set)
  }
  return !('bad' in set) && set.has(addr)
}

/** Each list parsed once (the options' list is the same array on every request). */
const parsedLists = new WeakMap<readonly string[], AddressSet | { bad: string }>()
