import type { Kysely } from 'kysely'
import { fieldError } from '../core/errors.js'
import { parseSlug } from '../core/validate.js'
import type { Database } from '../store/schema.js'
import type { BranchWithTenant } from '../tenants/branches.js'
import { requireBranch } from '../tenants/branches.js'
import type { TenantRow } from '../tenants/tenants.js'
import { requireTenant } from '../tenants/tenants.js'
import { branchScope, tenantScope } from './gateways-store.js'

export interface ScopeInput {
  branch?: string | undefined
  tenant?: string | undefined
}

/** Checks that exactly one of branch and tenant is given (usage, before any look-up). */
export function checkScope(input: ScopeInput): { branch: string } | { tenant: string } {
  if (input.branch && input.tenant)
    throw fieldError(
      'usage',
      'scope_conflict',
      ['branch', 'tenant'],
      'give either branch or tenant, not both',
    )
  if (input.branch) return { branch: parseSlug(input.branch, 'branch code') }
  if (input.tenant) return { tenant: parseSlug(input.tenant, 'tenant slug') }
  throw fieldError(
    'usage',
    'missing_flags',
    ['branch', 'tenant'],
    'missing required field: branch or tenant',
    'a configuration belongs to one branch, or to a tenant as the default for its branches',
  )
}

export interface ResolvedScope {
  scope: string
  tenant: TenantRow
  branch: BranchWithTenant | null
  /** The currency fees are expressed in: the branch's, else the tenant's. */
  currency: string
}

export async function resolveScope(
  db: Kysely<Database>,
  s: { branch: string } | { tenant: string },
): Promise<ResolvedScope> {
  if ('branch' in s) {
    const branch = await requireBranch(db, s.branch)
    const tenant = await requireTenant(db, branch.tenant_slug)
    return { scope: branchScope(branch.id), tenant, branch, currency: branch.currency }
  }
  const tenant = await requireTenant(db, s.tenant)
  return { scope: tenantScope(tenant.id), tenant, branch: null, currency: tenant.currency }
}

export const scopeLabel = (s: ResolvedScope) =>
  s.branch ? `branch ${s.branch.code}` : `tenant ${s.tenant.slug}`
