import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { usageError, validationError } from '../core/errors.js'
import { currency } from '../core/money/currency.js'
import { parseName, parseSlug } from '../core/validate.js'
import { requireTenant } from '../tenants/tenants.js'
import {
  type CollectionAccountRow,
  findCollectionAccount,
  listCollectionAccounts,
  upsertCollectionAccount,
} from './collection-accounts-store.js'

export interface CollectionAccountInput {
  currency?: string | undefined
  accountName?: string | undefined
  accountNumber?: string | undefined
  bankName?: string | undefined
  bankCode?: string | undefined
  swift?: string | undefined
}

/** The tenant's own bank account in one currency, where the gateways pay in. */
export interface CollectionAccountView {
  id: string
  tenant: string
  currency: string
  accountName: string
  accountNumber: string
  bankName: string
  bankCode: string | null
  swift: string | null
  createdAt: string
  updatedAt: string
}

export const collectionView = (r: CollectionAccountRow, tenant: string): CollectionAccountView => ({
  id: r.id,
  tenant,
  currency: r.currency,
  accountName: r.account_name,
  accountNumber: r.account_number,
  bankName: r.bank_name,
  bankCode: r.bank_code,
  swift: r.swift,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

const ACCOUNT_NUMBER = /^[A-Za-z0-9 -]{4,34}$/
const SWIFT = /^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$/
const BANK_CODE = /^[A-Za-z0-9-]{1,20}$/

const changeKeys = [
  'accountName',
  'accountNumber',
  'bankName',
  'bankCode',
  'swift',
] as const satisfies readonly (keyof CollectionAccountInput)[]

export const isCollectionChange = (input: CollectionAccountInput) =>
  changeKeys.some((k) => input[k] !== undefined)

export async function showCollectionAccounts(
  ctx: Ctx,
  slug: string,
): Promise<CollectionAccountView[]> {
  const store = await ctx.store()
  const t = await requireTenant(store.db, parseSlug(slug, 'tenant slug'))
  return (await listCollectionAccounts(store.db, t.id)).map((r) => collectionView(r, t.slug))
}

/** Creates or updates a tenant's collection account for one currency (audited). */
export async function setCollectionAccount(
  ctx: Ctx,
  slug: string,
  input: CollectionAccountInput,
): Promise<{ created: boolean; account: CollectionAccountView }> {
  const store = await ctx.store()
  const t = await requireTenant(store.db, parseSlug(slug, 'tenant slug'))
  const cur = currency(input.currency ?? t.currency).code
  const existing = await findCollectionAccount(store.db, t.id, cur)
  if (!existing) {
    const missing = (['accountName', 'accountNumber', 'bankName'] as const).filter((k) => !input[k])
    if (missing.length > 0)
      throw usageError(
        'missing_flags',
        `missing required ${missing.length === 1 ? 'flag' : 'flags'}: ${missing.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}`,
        `a new collection account for ${t.slug} (${cur}) needs --account-name, --account-number and --bank-name`,
      )
  }
  const accountNumber = (input.accountNumber ?? existing?.account_number ?? '').trim()
  if (!ACCOUNT_NUMBER.test(accountNumber))
    throw validationError(
      'invalid_account_number',
      `account number "${accountNumber}" must be 4 to 34 letters, digits, spaces or dashes`,
    )
  const swift =
    input.swift !== undefined ? input.swift.trim().toUpperCase() : (existing?.swift ?? null)
  if (swift !== null && !SWIFT.test(swift))
    throw validationError('invalid_swift', `SWIFT/BIC "${swift}" is not a SWIFT/BIC code`)
  const bankCode =
    input.bankCode !== undefined ? input.bankCode.trim() : (existing?.bank_code ?? null)
  if (bankCode !== null && !BANK_CODE.test(bankCode))
    throw validationError(
      'invalid_bank_code',
      `bank code "${bankCode}" must be letters, digits or dashes`,
    )
  const now = ctx.clock.now().toISOString()
  const row: CollectionAccountRow = {
    id: existing?.id ?? ctx.ids.next('ca'),
    tenant_id: t.id,
    currency: cur,
    account_name: parseName(input.accountName ?? existing?.account_name ?? '', 'account name'),
    account_number: accountNumber,
    bank_name: parseName(input.bankName ?? existing?.bank_name ?? '', 'bank name'),
    bank_code: bankCode,
    swift,
    created_at: existing?.created_at ?? now,
    updated_at: now,
  }
  await store.write(async (trx) => {
    const again = await findCollectionAccount(trx, t.id, cur)
    const final = again ? { ...row, id: again.id, created_at: again.created_at } : row
    await upsertCollectionAccount(trx, final, again !== undefined)
    await audit(ctx, trx, {
      action: again ? 'collection-account.update' : 'collection-account.create',
      tenant: t.slug,
      target: final.id,
      request: { ...collectionView(final, t.slug), createdAt: undefined, updatedAt: undefined },
    })
  })
  return { created: !existing, account: collectionView(row, t.slug) }
}

/** The collection account of a tenant in a currency (the debtor of a transfer), if any. */
export async function collectionAccountFor(
  db: Parameters<typeof findCollectionAccount>[0],
  tenantId: string,
  cur: string,
) {
  return findCollectionAccount(db, tenantId, cur)
}
