import type { Kysely } from 'kysely'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { conflict, notFound, usageError, validationError } from '../core/errors.js'
import { currency, formatMoney, parsePositiveAmount, toDecimalString } from '../core/money/index.js'
import { type BasisPoints, formatPercent, parsePercent } from '../core/money/rates.js'
import { METHODS } from '../core/payments/routing.js'
import { parseChoiceList, parseName, parseSlug, parseTimeZone } from '../core/validate.js'
import { isUniqueViolation } from '../store/errors.js'
import type { Database, Int8 } from '../store/schema.js'
import {
  type BranchRow,
  type BranchWithTenant,
  findBranchByCode,
  insertBranch,
  listBranches,
  updateBranch,
} from './branches-store.js'
import { requireTenant } from './tenants.js'

/** The payment methods a branch may accept: the routing methods. */
export const PAYMENT_METHODS = METHODS
export const DEFAULT_TIMEZONE = 'Africa/Nairobi'

/** A branch's largest single payment unless `--max-amount` says otherwise: 10,000,000 major units. */
export const DEFAULT_MAX_AMOUNT = '10000000'

export function maxAmountOf(r: { max_amount_minor: Int8 | null; currency: string }): bigint {
  if (r.max_amount_minor !== null && r.max_amount_minor !== undefined)
    return BigInt(r.max_amount_minor)
  return parsePositiveAmount(DEFAULT_MAX_AMOUNT, r.currency).minor
}

/**
 * Refuses a payment above the branch's ceiling (payments in the branch currency; others are
 * bounded by the parse ceiling only), naming the largest accepted amount.
 */
export function checkMaxAmount(
  r: { code: string; max_amount_minor: Int8 | null; currency: string },
  amountMinor: bigint,
  code: string,
): void {
  if (code !== r.currency) return
  const max = maxAmountOf(r)
  if (amountMinor > max)
    throw validationError(
      'amount_above_branch_max',
      `${formatMoney({ minor: amountMinor, currency: code })} is more than branch ${r.code} accepts in one payment; the largest accepted amount is ${formatMoney({ minor: max, currency: code })}`,
      `raise it with \`dsh branch set ${r.code} --max-amount <amount>\``,
    )
}

export interface BranchView {
  id: string
  code: string
  name: string
  tenant: string
  currency: string
  timezone: string
  taxRate: string
  taxRateBp: number
  serviceChargeRate: string
  serviceChargeRateBp: number
  tips: boolean
  methods: string[]
  /** The largest single payment in the branch currency. */
  maxAmountMinor: bigint
  maxAmount: string
  status: 'active' | 'disabled'
  createdAt: string
  updatedAt: string
}

export const branchView = (r: BranchWithTenant): BranchView => ({
  id: r.id,
  code: r.code,
  name: r.name,
  tenant: r.tenant_slug,
  currency: r.currency,
  timezone: r.timezone,
  taxRate: formatPercent(r.tax_rate_bp),
  taxRateBp: r.tax_rate_bp,
  serviceChargeRate: formatPercent(r.service_charge_bp),
  serviceChargeRateBp: r.service_charge_bp,
  tips: Boolean(r.tips_enabled),
  methods: r.methods.split(',').filter(Boolean),
  maxAmountMinor: maxAmountOf(r),
  maxAmount: toDecimalString({ minor: maxAmountOf(r), currency: r.currency }),
  status: r.status === 'disabled' ? 'disabled' : 'active',
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

export interface BranchSettingsInput {
  name?: string | undefined
  timezone?: string | undefined
  taxRate?: string | undefined
  serviceCharge?: string | undefined
  tips?: boolean | undefined
  methods?: string | undefined
  /** The largest single payment, in major units of the branch currency. */
  maxAmount?: string | undefined
}

interface ParsedSettings {
  name?: string
  timezone?: string
  tax_rate_bp?: BasisPoints
  service_charge_bp?: BasisPoints
  tips_enabled?: number
  methods?: string
  max_amount_minor?: bigint
}

function parseSettings(input: BranchSettingsInput, cur: string | undefined): ParsedSettings {
  const out: ParsedSettings = {}
  if (input.name !== undefined) out.name = parseName(input.name, 'branch name')
  if (input.timezone !== undefined) out.timezone = parseTimeZone(input.timezone)
  if (input.taxRate !== undefined) out.tax_rate_bp = parsePercent(input.taxRate, 'tax rate')
  if (input.serviceCharge !== undefined)
    out.service_charge_bp = parsePercent(input.serviceCharge, 'service charge')
  if (input.tips !== undefined) out.tips_enabled = input.tips ? 1 : 0
  if (input.methods !== undefined)
    out.methods = parseChoiceList(input.methods, PAYMENT_METHODS, 'payment method').join(',')
  if (input.maxAmount !== undefined && cur !== undefined)
    out.max_amount_minor = parsePositiveAmount(input.maxAmount, cur).minor
  return out
}

export interface AddBranchInput extends BranchSettingsInput {
  code: string
  tenant: string
  name: string
  currency: string
}

export async function addBranch(ctx: Ctx, input: AddBranchInput): Promise<BranchView> {
  // Validate everything before looking anything up: invalid input (3) outranks not found (4).
  const code = parseSlug(input.code, 'branch code')
  const tenantSlug = parseSlug(input.tenant, 'tenant slug')
  const cur = currency(input.currency).code
  // The time zone defaults to the tenant's (looked up below).
  const s = parseSettings(
    {
      methods: PAYMENT_METHODS.join(','),
      ...input,
    },
    cur,
  )
  const store = await ctx.store()
  const now = ctx.clock.now().toISOString()
  try {
    return await store.write(async (trx) => {
      const tenant = await requireTenant(trx, tenantSlug)
      if (await findBranchByCode(trx, code)) throw branchExists(code)
      const row: BranchRow = {
        id: ctx.ids.next('br'),
        tenant_id: tenant.id,
        code,
        name: s.name ?? code,
        currency: cur,
        timezone: s.timezone ?? tenant.timezone ?? DEFAULT_TIMEZONE,
        tax_rate_bp: s.tax_rate_bp ?? 0,
        service_charge_bp: s.service_charge_bp ?? 0,
        tips_enabled: s.tips_enabled ?? 0,
        methods: s.methods ?? PAYMENT_METHODS.join(','),
        max_amount_minor: s.max_amount_minor ?? null,
        status: 'active',
        created_at: now,
        updated_at: now,
      }
      await insertBranch(trx, row)
      await audit(ctx, trx, {
        action: 'branch.create',
        tenant: tenant.slug,
        branch: code,
        target: row.id,
        request: { ...input },
      })
      return branchView({ ...row, tenant_slug: tenant.slug })
    })
  } catch (err) {
    throw isUniqueViolation(err) ? branchExists(code) : err
  }
}

const branchExists = (code: string) =>
  conflict(
    'branch_exists',
    `branch "${code}" already exists`,
    'branch codes are unique in a store; choose another code',
  )

/** Finds a branch by code or throws exit 4 with a hint. */
export async function requireBranch(db: Kysely<Database>, code: string): Promise<BranchWithTenant> {
  const b = await findBranchByCode(db, code)
  if (!b) throw notFound('branch_not_found', `no branch "${code}"`, 'see `dsh branch list`')
  return b
}

export async function branchList(
  ctx: Ctx,
  filter: { tenant?: string | undefined },
): Promise<BranchView[]> {
  const store = await ctx.store()
  const tenantId = filter.tenant
    ? (await requireTenant(store.db, parseSlug(filter.tenant, 'tenant slug'))).id
    : undefined
  return (await listBranches(store.db, tenantId ? { tenantId } : {})).map(branchView)
}

export async function branchShow(ctx: Ctx, code: string): Promise<BranchView> {
  const store = await ctx.store()
  return branchView(await requireBranch(store.db, parseSlug(code, 'branch code')))
}

export async function setBranch(
  ctx: Ctx,
  code: string,
  input: BranchSettingsInput,
): Promise<BranchView> {
  parseSlug(code, 'branch code')
  const changes = parseSettings(input, undefined)
  if (input.maxAmount !== undefined) {
    const store = await ctx.store()
    const b = await requireBranch(store.db, code)
    changes.max_amount_minor = parsePositiveAmount(input.maxAmount, b.currency).minor
  }
  if (Object.keys(changes).length === 0) {
    throw usageError(
      'nothing_to_change',
      'nothing to change',
      'give at least one of --name, --timezone, --tax-rate, --service-charge, --tips/--no-tips, --methods, --max-amount',
    )
  }
  return changeBranch(ctx, code, changes)
}

export async function setBranchStatus(
  ctx: Ctx,
  code: string,
  status: 'active' | 'disabled',
): Promise<BranchView> {
  parseSlug(code, 'branch code')
  return changeBranch(ctx, code, { status })
}

async function changeBranch(
  ctx: Ctx,
  code: string,
  changes: ParsedSettings & { status?: string },
): Promise<BranchView> {
  const store = await ctx.store()
  const now = ctx.clock.now().toISOString()
  return store.write(async (trx) => {
    const before = await requireBranch(trx, code)
    await updateBranch(trx, before.id, { ...changes, updated_at: now })
    const action =
      changes.status === 'disabled'
        ? 'branch.disable'
        : changes.status === 'active'
          ? 'branch.enable'
          : 'branch.update'
    await audit(ctx, trx, {
      action,
      tenant: before.tenant_slug,
      branch: code,
      target: before.id,
      request:
        changes.max_amount_minor === undefined
          ? changes
          : { ...changes, max_amount_minor: changes.max_amount_minor.toString() },
    })
    return branchView(await requireBranch(trx, code))
  })
}

export {
  type BranchWithTenant,
  findBranchByCode,
  findBranchById,
  listBranches,
} from './branches-store.js'
