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
import { parseName, parseSlug } from '../core/validate.js'
import { requireBranch } from '../tenants/branches.js'
import {
  findSettlementAccount,
  listSettlementAccounts,
  type SettlementAccountRow,
  upsertSettlementAccount,
} from './settlement-accounts-store.js'

export interface SettlementAccountInput extends ScheduleInput {
  currency?: string | undefined
  accountName?: string | undefined
  accountNumber?: string | undefined
  bankName?: string | undefined
  bankCode?: string | undefined
  swift?: string | undefined
  minAmount?: string | undefined
  holdingHours?: string | undefined
  auto?: boolean | undefined
}

export interface SettlementAccountView {
  id: string
  branch: string
  currency: string
  accountName: string
  accountNumber: string
  bankName: string
  bankCode: string | null
  swift: string | null
  schedule: Schedule
  minAmountMinor: bigint
  minAmount: string
  holdingHours: number
  auto: boolean
  createdAt: string
  updatedAt: string
}

const view = (r: SettlementAccountRow, branch: string): SettlementAccountView => ({
  id: r.id,
  branch,
  currency: r.currency,
  accountName: r.account_name,
  accountNumber: r.account_number,
  bankName: r.bank_name,
  bankCode: r.bank_code,
  swift: r.swift,
  schedule: {
    kind: r.schedule as Schedule['kind'],
    at: r.at_time,
    weekday: r.weekday,
    day: r.month_day,
  },
  minAmountMinor: BigInt(r.min_amount_minor),
  minAmount: toDecimalString({ minor: BigInt(r.min_amount_minor), currency: r.currency }),
  holdingHours: r.holding_hours,
  auto: r.auto === 1,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

const ACCOUNT_NUMBER = /^[A-Za-z0-9 -]{4,34}$/
const SWIFT = /^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$/
const BANK_CODE = /^[A-Za-z0-9-]{1,20}$/

const changeKeys: (keyof SettlementAccountInput)[] = [
  'accountName',
  'accountNumber',
  'bankName',
  'bankCode',
  'swift',
  'minAmount',
  'holdingHours',
  'auto',
  'schedule',
  'at',
  'weekday',
  'day',
]

export const isChange = (input: SettlementAccountInput) =>
  changeKeys.some((k) => input[k] !== undefined)

export async function showSettlementAccounts(
  ctx: Ctx,
  code: string,
): Promise<SettlementAccountView[]> {
  const store = await ctx.store()
  const b = await requireBranch(store.db, parseSlug(code, 'branch code'))
  return (await listSettlementAccounts(store.db, b.id)).map((r) => view(r, b.code))
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
  if (!existing) {
    const missing = (['accountName', 'accountNumber', 'bankName'] as const).filter((k) => !input[k])
    if (missing.length > 0) {
      throw usageError(
        'missing_flags',
        `missing required ${missing.length === 1 ? 'flag' : 'flags'}: ${missing.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}`,
        `a new settlement account for ${code} (${cur}) needs --account-name, --account-number and --bank-name`,
      )
    }
  }
  const current: Schedule | null = existing
    ? {
        kind: existing.schedule as Schedule['kind'],
        at: existing.at_time,
        weekday: existing.weekday,
        day: existing.month_day,
      }
    : null
  const schedule = parseSchedule(input, current)
  const accountNumber = (input.accountNumber ?? existing?.account_number ?? '').trim()
  if (!ACCOUNT_NUMBER.test(accountNumber))
    throw validationError(
      'invalid_account_number',
      `--account-number "${accountNumber}" must be 4 to 34 letters, digits, spaces or dashes`,
    )
  const swift =
    input.swift !== undefined ? input.swift.trim().toUpperCase() : (existing?.swift ?? null)
  if (swift !== null && !SWIFT.test(swift))
    throw validationError(
      'invalid_swift',
      `--swift "${swift}" is not a SWIFT/BIC code`,
      '8 or 11 characters, e.g. KCBLKENX',
    )
  const bankCode =
    input.bankCode !== undefined ? input.bankCode.trim() : (existing?.bank_code ?? null)
  if (bankCode !== null && !BANK_CODE.test(bankCode))
    throw validationError(
      'invalid_bank_code',
      `--bank-code "${bankCode}" must be letters, digits or dashes`,
    )
  const now = ctx.clock.now().toISOString()
  const row: SettlementAccountRow = {
    id: existing?.id ?? ctx.ids.next('sa'),
    branch_id: branch.id,
    currency: cur,
    account_name: parseName(input.accountName ?? existing?.account_name ?? '', 'account name'),
    account_number: accountNumber,
    bank_name: parseName(input.bankName ?? existing?.bank_name ?? '', 'bank name'),
    bank_code: bankCode,
    swift,
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
    created_at: existing?.created_at ?? now,
    updated_at: now,
  }
  await store.write(async (trx) => {
    const again = await findSettlementAccount(trx, branch.id, cur)
    await upsertSettlementAccount(trx, again ? { ...row, id: again.id } : row, again !== undefined)
    await audit(ctx, trx, {
      action: again ? 'settlement-account.update' : 'settlement-account.create',
      tenant: branch.tenant_slug,
      branch: branch.code,
      target: row.id,
      request: { ...view(row, branch.code), createdAt: undefined, updatedAt: undefined },
    })
  })
  return { created: !existing, account: view(row, branch.code) }
}
