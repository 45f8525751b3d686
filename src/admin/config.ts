import { readFileSync, statSync } from 'node:fs'
import { isAbsolute } from 'node:path'
import { ANCHORS_SETTING } from '../audit/anchors.js'
import { audit } from '../audit/audit.js'
import { PUBLIC_URL_SETTING } from '../callbacks/callback-url.js'
import type { Ctx } from '../context.js'
import { usageError, validationError } from '../core/errors.js'
import { maskUrl } from '../core/url-mask.js'
import { parseThreshold, THRESHOLDS } from '../reports/thresholds.js'
import {
  EVENTS_RETENTION_SETTING,
  INBOX_RETENTION_SETTING,
  parseRetention,
} from '../retention/retention.js'
import { seal } from '../vault/vault.js'
import { getSetting, putSetting } from './settings-store.js'

/** Settings a user may set with `dsh config`: name → store key and validator. */
interface Entry {
  key: string
  parse: (v: string) => string
  help: string
  /** The value is a file holding a secret: stored sealed by the vault, never shown. */
  secretFile?: boolean
}

export const ALERT_WEBHOOK_SECRET = 'alert_webhook_secret'
export const ALERT_WEBHOOK_SECRET_CONTEXT = 'settings:alert_webhook_secret'

/** `v` as a URL (refused, shown as `shown`, when it is not one), and whether it is loopback. */
function parseUrl(v: string, shown: string, hint?: string): { url: URL; local: boolean } {
  let url: URL
  try {
    url = new URL(v)
  } catch {
    throw validationError('invalid_url', `"${shown}" is not a URL`, hint)
  }
  return { url, local: ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) }
}

const KEYS: Record<string, Entry> = {
  'public-url': {
    key: PUBLIC_URL_SETTING,
    help: 'the base URL gateways call back (the daemon’s address as the internet sees it)',
    parse(v) {
      const { url, local } = parseUrl(v, maskUrl(v), 'e.g. https://pay.example.co.ke')
      if (url.username || url.password)
        throw validationError(
          'invalid_url',
          `the public URL ${maskUrl(v)} must not contain user information (user:password@): gateways would be sent it`,
          'give the address only, e.g. https://pay.example.co.ke',
        )
      if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
        throw validationError(
          'invalid_url',
          'the public URL must be https (http only for 127.0.0.1/localhost)',
        )
      }
      if (url.search || url.hash)
        throw validationError('invalid_url', 'the public URL must not have a query or fragment')
      return url.toString().replace(/\/+$/, '')
    },
  },
  'backup-at': {
    key: 'backup_at',
    help: 'when the daemon takes its daily backup, HH:MM in the first tenant’s time zone (default 02:30)',
    parse(v) {
      if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(v))
        throw validationError(
          'invalid_time',
          `"${v}" is not a time of day`,
          'use HH:MM, e.g. 02:30',
        )
      return v
    },
  },
  'backup-keep': {
    key: 'backup_keep',
    help: 'how many of the daemon’s daily backups to keep (default 14)',
    parse(v) {
      if (!/^\d{1,4}$/.test(v) || Number(v) < 1)
        throw validationError('invalid_number', `"${v}" is not a whole number from 1`)
      return String(Number(v))
    },
  },
  'alert-webhook-url': {
    key: 'alert_webhook_url',
    help: 'where the daemon POSTs alert changes, signed with X-Dsh-Signature (https, or http on loopback)',
    parse(v) {
      const { url, local } = parseUrl(v, maskUrl(v).slice(0, 100))
      if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local))
        throw validationError(
          'invalid_url',
          'the alert webhook must be https (http only on loopback)',
        )
      if (url.username || url.password)
        throw validationError(
          'invalid_url',
          'the alert webhook URL must not hold a user or password',
        )
      return url.toString()
    },
  },
  'alert-webhook-secret-file': {
    key: ALERT_WEBHOOK_SECRET,
    secretFile: true,
    help: 'a file holding the secret that signs alert webhooks (stored encrypted, never shown)',
    parse: (v) => v,
  },
  'audit-anchors': {
    key: ANCHORS_SETTING,
    help: 'the file the daemon appends the audit head to daily (default $DSH_HOME/audit-anchors.log); put it on another disk',
    parse(v) {
      if (!isAbsolute(v))
        throw validationError(
          'invalid_path',
          `"${v}" is not an absolute path`,
          'e.g. /mnt/worm/dsh-anchors.log',
        )
      return v
    },
  },
  'events-retention': {
    key: EVENTS_RETENTION_SETTING,
    help: 'how long live events (the SSE stream’s history) are kept, in days, e.g. 30d (default 30d); `dsh prune` and the daemon’s daily job remove older ones',
    parse: parseRetention,
  },
  'inbox-retention': {
    key: INBOX_RETENTION_SETTING,
    help: 'how long applied, ignored and orphaned callbacks (raw bodies) are kept, in days, e.g. 90d (default 90d)',
    parse: parseRetention,
  },
}

for (const t of THRESHOLDS)
  KEYS[t.name] = { key: t.key, help: t.help, parse: (v) => parseThreshold(t, v) }

function keyOf(name: string) {
  const k = KEYS[name]
  if (!k)
    throw usageError(
      'unknown_setting',
      `unknown setting "${name}"`,
      `settings: ${Object.keys(KEYS).join(', ')}`,
    )
  return k
}

export async function configSet(
  ctx: Ctx,
  name: string,
  value: string,
  readSecret: (path: string) => string = (path) => readSecretFile(path),
): Promise<{ name: string; value: string }> {
  const k = keyOf(name)
  const store = await ctx.store()
  if (k.secretFile) {
    const secret = readSecret(value.trim())
    if (secret.length < 16)
      throw validationError(
        'secret_too_short',
        `the secret in ${value} is shorter than 16 characters`,
      )
    const sealed = seal(ctx, secret, ALERT_WEBHOOK_SECRET_CONTEXT)
    await store.write(async (trx) => {
      await putSetting(trx, k.key, sealed, ctx.clock.now().toISOString())
      await audit(ctx, trx, {
        action: 'config.set',
        target: name,
        request: { name, value: '[secret]' },
      })
    })
    return { name, value: '[secret set]' }
  }
  const parsed = k.parse(value.trim())
  await store.write(async (trx) => {
    await putSetting(trx, k.key, parsed, ctx.clock.now().toISOString())
    await audit(ctx, trx, { action: 'config.set', target: name, request: { name, value: parsed } })
  })
  return { name, value: parsed.includes('://') ? maskUrl(parsed) : parsed }
}

/** A secret file: at most 64 KiB, its text without the final newline. */
function readSecretFile(path: string): string {
  let size: number
  try {
    size = statSync(path).size
  } catch {
    throw validationError('secret_file_missing', `cannot read ${path}`)
  }
  if (size > 65_536) throw validationError('secret_file_too_large', `${path} is larger than 64 KiB`)
  return readFileSync(path, 'utf8').replace(/\r?\n$/, '')
}

export async function configGet(
  ctx: Ctx,
  name?: string,
): Promise<{ name: string; value: string | null; help: string }[]> {
  const names = name ? [name] : Object.keys(KEYS)
  const store = await ctx.store()
  const out = []
  for (const n of names) {
    const k = keyOf(n)
    const v = (await getSetting(store.db, k.key)) ?? null
    const shown = k.secretFile && v ? '[secret set]' : v?.includes('://') ? maskUrl(v) : v
    out.push({ name: n, value: shown, help: k.help })
  }
  return out
}
