import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { currency } from '../core/money/currency.js'
import { parseSlug } from '../core/validate.js'
import { requireTenant } from '../tenants/tenants.js'
import {
  BANK_ACCOUNT_KEYS,
  type BankAccountInput,
  type BankAccountView,
  bankAccountOf,
  bankAccountView,
} from './account-fields.js'
import {
  type CollectionAccountRow,
  findCollectionAccount,
  listCollectionAccounts,
  upsertCollectionAccount,
} from './collection-accounts-store.js'

export interface CollectionAccountInput extends BankAccountInput {
  currency?: string | undefined
}

/** The tenant's own bank account in one currency, where the gateways pay in. */
export interface CollectionAccountView extends BankAccountView {
  id: string
  tenant: string
  currency: string
  createdAt: string
  updatedAt: string
}

export const collectionView = (r: CollectionAccountRow, tenant: string): CollectionAccountView => ({
  id: r.id,
  tenant,
  currency: r.currency,
  ...bankAccountView(r),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

export const isCollectionChange = (input: CollectionAccountInput) =>
  BANK_ACCOUNT_KEYS.some((k) => input[k] !== undefined)

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
  const bank = bankAccountOf(input, existing, `collection account for ${t.slug} (${cur})`)
  const now = ctx.clock.now().toISOString()
  const row: CollectionAccountRow = {
    id: existing?.id ?? ctx.ids.next('ca'),
    tenant_id: t.id,
    currency: cur,
    ...bank,
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
