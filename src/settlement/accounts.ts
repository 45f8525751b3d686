import type { Kysely } from 'kysely'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { usageError, validationError } from '../core/errors.js'
import { currency } from '../core/money/currency.js'
import { toDecimalString } from '../core/money/format.js'
import { parseNonNegativeAmount } from '../core/money/parse.js'
import {
  parseHoldingHours,
  parseSchedule,
  type Schedule,
  type ScheduleInput,
} from '../core/schedule.js'
import { maskUrl } from '../core/url-mask.js'
import { parseSlug } from '../core/validate.js'
import type { Database } from '../store/schema.js'
import { requireBranch } from '../tenants/branches.js'
import { maskSecret } from '../vault/mask.js'
import { seal, unseal } from '../vault/vault.js'
import {
  BANK_ACCOUNT_KEYS,
  type BankAccountInput,
  type BankAccountRow,
  type BankAccountView,
  bankAccountOf,
  bankAccountView,
  scheduleOf,
} from './account-fields.js'
import {
  findSettlementAccount,
  listAccountSecrets,
  listSettlementAccounts,
  type SettlementAccountRow,
  setAccountSecrets,
  upsertSettlementAccount,
} from './settlement-accounts-store.js'

export interface SettlementAccountInput extends ScheduleInput, BankAccountInput {
  currency?: string | undefined
  minAmount?: string | undefined
  holdingHours?: string | undefined
  auto?: boolean | undefined
  transfer?: string | undefined
  bankApiUrl?: string | undefined
  /** The bank API key itself (the command reads it from a file). */
  bankApiKey?: string | undefined
  bankWebhookSecret?: string | undefined
}

export const TRANSFER_ADAPTERS = ['file', 'http', 'manual'] as const
export type TransferAdapter = (typeof TRANSFER_ADAPTERS)[number]
const BANK_SECRET_FIELDS = ['apiKey', 'webhookSecret'] as const
const BANK_SECRET_FLAGS: Record<
  (typeof BANK_SECRET_FIELDS)[number],
  'bankApiKey' | 'bankWebhookSecret'
> = {
  apiKey: 'bankApiKey',
  webhookSecret: 'bankWebhookSecret',
}

/** The vault context a bank secret is bound to: its account and field. */
export const bankSecretContext = (accountId: string, field: string) =>
  `settlement-account:${accountId}:${field}`

export interface SettlementAccountView extends BankAccountView {
  id: string
  branch: string
  currency: string
  schedule: Schedule
  minAmountMinor: bigint
  minAmount: string
  holdingHours: number
  auto: boolean
  transfer: TransferAdapter
  bankApiUrl: string | null
  /** Masked; null when none is stored. */
  bankApiKey: string | null
  bankWebhookSecret: string | null
  createdAt: string
  updatedAt: string
}

function maskedSecrets(ctx: Ctx, r: SettlementAccountRow) {
  const sealed = parseSecrets(r.bank_secrets)
  const open = (field: string) => {
    const envelope = sealed[field]
    return envelope ? maskSecret(unseal(ctx, envelope, bankSecretContext(r.id, field))) : null
  }
  return { bankApiKey: open('apiKey'), bankWebhookSecret: open('webhookSecret') }
}

export function parseSecrets(text: string): Record<string, string> {
  try {
    const v = JSON.parse(text) as unknown
    return v && typeof v === 'object' ? (v as Record<string, string>) : {}
  } catch {
    return {}
  }
}

const view = (
  r: SettlementAccountRow,
  branch: string,
  secrets: { bankApiKey: string | null; bankWebhookSecret: string | null },
): SettlementAccountView => ({
  id: r.id,
  branch,
  currency: r.currency,
  ...bankAccountView(r),
  schedule: scheduleOf(r),
  minAmountMinor: BigInt(r.min_amount_minor),
  minAmount: toDecimalString({ minor: BigInt(r.min_amount_minor), currency: r.currency }),
  holdingHours: r.holding_hours,
  auto: r.auto === 1,
  transfer: r.transfer as TransferAdapter,
  // Shown, printed and audited masked (a URL stored before user information was refused).
  bankApiUrl: r.bank_api_url === null ? null : maskUrl(r.bank_api_url),
  ...secrets,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

const changeKeys: (keyof SettlementAccountInput)[] = [
  ...BANK_ACCOUNT_KEYS,
  'minAmount',
  'holdingHours',
  'auto',
  'schedule',
  'at',
  'weekday',
  'day',
  'transfer',
  'bankApiUrl',
  'bankApiKey',
  'bankWebhookSecret',
]

export const isChange = (input: SettlementAccountInput) =>
  changeKeys.some((k) => input[k] !== undefined)

export async function showSettlementAccounts(
  ctx: Ctx,
  code: string,
): Promise<SettlementAccountView[]> {
  const store = await ctx.store()
  const b = await requireBranch(store.db, parseSlug(code, 'branch code'))
  return (await listSettlementAccounts(store.db, b.id)).map((r) =>
    view(r, b.code, maskedSecrets(ctx, r)),
  )
}

/** Creates or updates the branch's settlement account and schedule for one currency. */
export async function setSettlementAccount(
  ctx: Ctx,
  code: string,
  input: SettlementAccountInput,
): Promise<{ created: boolean; account: SettlementAccountView }> {
  parseSlug(code, 'branch code')
  const store = await ctx.store()
  const branch = await requireBranch(store.db, code)
  const cur = currency(input.currency ?? branch.currency).code
  const existing = await findSettlementAccount(store.db, branch.id, cur)
  const account = bankAccountOf(input, existing, `settlement account for ${code} (${cur})`)
  const schedule = parseSchedule(input, existing ? scheduleOf(existing) : null)
  const transferText = input.transfer ?? existing?.transfer ?? 'file'
  if (!(TRANSFER_ADAPTERS as readonly string[]).includes(transferText))
    throw validationError(
      'invalid_transfer',
      `--transfer "${transferText}" is not one of ${TRANSFER_ADAPTERS.join(', ')}`,
    )
  const transfer = transferText as TransferAdapter
  const id = existing?.id ?? ctx.ids.next('sa')
  const bank = bankApi(ctx, id, transfer, input, existing, account)
  const now = ctx.clock.now().toISOString()
  const row: SettlementAccountRow = {
    id,
    branch_id: branch.id,
    currency: cur,
    ...account,
    schedule: schedule.kind,
    at_time: schedule.at,
    weekday: schedule.weekday,
    month_day: schedule.day,
    min_amount_minor:
      input.minAmount !== undefined
        ? parseNonNegativeAmount(input.minAmount, cur).minor
        : BigInt(existing?.min_amount_minor ?? 0),
    holding_hours:
      input.holdingHours !== undefined
        ? parseHoldingHours(input.holdingHours)
        : (existing?.holding_hours ?? 24),
    auto: input.auto === undefined ? (existing?.auto ?? 0) : input.auto ? 1 : 0,
    transfer,
    bank_api_url: bank.url,
    bank_secrets: JSON.stringify(bank.secrets),
    created_at: existing?.created_at ?? now,
    updated_at: now,
  }
  const shown = view(row, branch.code, maskedSecrets(ctx, row))
  await store.write(async (trx) => {
    const again = await findSettlementAccount(trx, branch.id, cur)
    await upsertSettlementAccount(trx, again ? { ...row, id: again.id } : row, again !== undefined)
    await audit(ctx, trx, {
      action: again ? 'settlement-account.update' : 'settlement-account.create',
      tenant: branch.tenant_slug,
      branch: branch.code,
      target: row.id,
      request: { ...shown, createdAt: undefined, updatedAt: undefined },
    })
  })
  return { created: !existing, account: shown }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1'])

/**
 * The bank API settings of an `http` account: the URL (https, except a loopback sandbox) and
 * its two secrets, sealed and bound to the account and field. A new URL keeps no stored secret.
 */
function bankApi(
  ctx: Ctx,
  id: string,
  transfer: TransferAdapter,
  input: SettlementAccountInput,
  existing: SettlementAccountRow | undefined,
  { account_number: accountNumber, bank_code: bankCode }: BankAccountRow,
): { url: string | null; secrets: Record<string, string> } {
  const given = (['bankApiUrl', 'bankApiKey', 'bankWebhookSecret'] as const).filter(
    (k) => input[k] !== undefined,
  )
  if (transfer !== 'http') {
    if (given.length > 0)
      throw usageError(
        'flag_not_for_transfer',
        `${given.map(flagOf).join(', ')} ${given.length === 1 ? 'applies' : 'apply'} to --transfer http only`,
      )
    return { url: null, secrets: {} }
  }
  if (!bankCode)
    throw validationError(
      'bank_code_required',
      'a settlement account with --transfer http needs --bank-code (the bank API requires it)',
    )
  if (/\s/.test(accountNumber))
    throw validationError(
      'invalid_account_number',
      `--account-number "${accountNumber}" must have no spaces for --transfer http (the bank API refuses them)`,
    )
  const url = input.bankApiUrl?.trim() ?? existing?.bank_api_url ?? null
  const sameUrl = existing?.transfer === 'http' && url === existing.bank_api_url
  const kept = sameUrl && existing ? parseSecrets(existing.bank_secrets) : {}
  const secrets: Record<string, string> = {}
  for (const field of BANK_SECRET_FIELDS) {
    const value = input[BANK_SECRET_FLAGS[field]]
    if (value !== undefined && value.trim() !== '')
      secrets[field] = seal(ctx, value.replace(/\r?\n$/, ''), bankSecretContext(id, field))
    else if (kept[field]) secrets[field] = kept[field]
  }
  const missing: string[] = []
  if (!url) missing.push('--bank-api-url')
  for (const field of BANK_SECRET_FIELDS)
    if (!secrets[field]) missing.push(`${flagOf(BANK_SECRET_FLAGS[field])}-file`)
  if (missing.length > 0)
    throw validationError(
      'bank_api_incomplete',
      `--transfer http needs ${missing.join(', ')}`,
      existing?.bank_api_url && !sameUrl
        ? 'a new --bank-api-url keeps no stored bank secret: give them again'
        : undefined,
    )
  let parsed: URL
  try {
    parsed = new URL(url as string)
  } catch {
    throw validationError('invalid_url', `--bank-api-url "${maskUrl(url as string)}" is not a URL`)
  }
  // The bank API key goes in a header: a user and password in the URL would be printed, logged
  // and audited with it (and sent by some clients in clear as Basic auth).
  if (parsed.username || parsed.password)
    throw validationError(
      'invalid_url',
      `--bank-api-url ${maskUrl(url as string)} must not contain user information (user:password@)`,
      'give the API key with --bank-api-key-file, never in the URL',
    )
  if (
    parsed.protocol !== 'https:' &&
    !(parsed.protocol === 'http:' && LOOPBACK.has(parsed.hostname))
  )
    throw validationError(
      'invalid_url',
      `--bank-api-url "${maskUrl(url as string)}" must use https`,
      'plain http is for a sandbox on this machine (127.0.0.1) only',
    )
  return { url: (url as string).replace(/\/+$/, ''), secrets }
}

const flagOf = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`

/** The opened bank API settings of an http account (for the transfer client). */
export function openBankApi(
  ctx: Ctx,
  r: SettlementAccountRow,
): { baseUrl: string; apiKey: string; webhookSecret: string } | null {
  if (r.transfer !== 'http' || !r.bank_api_url) return null
  const sealed = parseSecrets(r.bank_secrets)
  const open = (f: string) => {
    const e = sealed[f]
    return e ? unseal(ctx, e, bankSecretContext(r.id, f)) : ''
  }
  return { baseUrl: r.bank_api_url, apiKey: open('apiKey'), webhookSecret: open('webhookSecret') }
}

/**
 * Re-seals every stored bank secret (for `dsh keys rotate`); `reseal` gets the envelope and its
 * context. Returns how many were re-sealed; `onlyStale` skips envelopes it says are current.
 */
export async function resealBankSecrets(
  db: Kysely<Database>,
  reseal: (envelope: string, context: string) => string | null,
): Promise<number> {
  let n = 0
  for (const a of await listAccountSecrets(db)) {
    const sealed = parseSecrets(a.bank_secrets)
    if (Object.keys(sealed).length === 0) continue
    const out: Record<string, string> = {}
    let changed = false
    for (const [field, envelope] of Object.entries(sealed)) {
      const next = reseal(envelope, bankSecretContext(a.id, field))
      out[field] = next ?? envelope
      if (next !== null) {
        changed = true
        n++
      }
    }
    if (changed) await setAccountSecrets(db, a.id, JSON.stringify(out))
  }
  return n
}

/** How many bank secrets are stored (for `dsh keys rotate --dry-run`). */
export async function countBankSecrets(db: Kysely<Database>): Promise<number> {
  return (await listAccountSecrets(db)).reduce(
    (n, a) => n + Object.keys(parseSecrets(a.bank_secrets)).length,
    0,
  )
}
