import type { Ctx } from '../context.js'
import { displayValue } from '../core/gateways/config.js'
import type { FeeStructure } from '../core/gateways/fees.js'
import { fieldsWithValues, GATEWAY_FIELDS } from '../core/gateways/fields.js'
import type { GatewayType } from '../core/gateways/types.js'
import { toDecimalString } from '../core/money/format.js'
import { formatPercent } from '../core/money/rates.js'
import { maskUrl } from '../core/url-mask.js'
import { maskSecret } from '../vault/mask.js'
import { unseal } from '../vault/vault.js'
import type { GatewayConfigRow } from './gateways-store.js'

export type ConfigSource = 'branch' | 'tenant'

export interface GatewayView {
  id: string
  type: string
  tenant: string
  branch: string | null
  source: ConfigSource
  enabled: boolean
  settings: Record<string, string>
  /** Secrets masked to their last 4 characters; the plain values never leave the vault. */
  secrets: Record<string, string>
  fees: Record<string, string | number | bigint>
  createdAt: string
  updatedAt: string
}

export const feesOf = (r: GatewayConfigRow): FeeStructure => ({
  currency: r.fee_currency,
  transactionFeeBp: r.transaction_fee_bp,
  transactionFeeFlatMinor: BigInt(r.transaction_fee_flat_minor),
  conversionFeeBp: r.conversion_fee_bp,
  settlementFeeMinor: BigInt(r.settlement_fee_minor),
})

export function feesView(f: FeeStructure): GatewayView['fees'] {
  const m = (minor: bigint) => toDecimalString({ minor, currency: f.currency })
  return {
    currency: f.currency,
    transactionFeeRate: formatPercent(f.transactionFeeBp),
    transactionFeeRateBp: f.transactionFeeBp,
    transactionFeeFlatMinor: f.transactionFeeFlatMinor,
    transactionFeeFlat: m(f.transactionFeeFlatMinor),
    conversionFeeRate: formatPercent(f.conversionFeeBp),
    conversionFeeRateBp: f.conversionFeeBp,
    settlementFeeMinor: f.settlementFeeMinor,
    settlementFee: m(f.settlementFeeMinor),
  }
}

export const parseJsonObject = (text: string): Record<string, string> => {
  const v = JSON.parse(text) as unknown
  return v && typeof v === 'object' ? (v as Record<string, string>) : {}
}

export const secretContext = (configId: string, field: string) => `gateway:${configId}:${field}`

/** Settings as the user typed them (money in major units), for editing and display. */
export function displaySettings(
  type: GatewayType,
  stored: Record<string, string>,
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [f, v] of fieldsWithValues(type, stored))
    if (f.kind !== 'secret') out[f.name] = displayValue(f, v, stored)
  return out
}

/** Settings fit to print: URLs through the one masking function (no password ever shown). */
export function maskUrlSettings(
  type: GatewayType,
  settings: Record<string, string>,
): Record<string, string> {
  const out = { ...settings }
  for (const f of GATEWAY_FIELDS[type])
    if (f.kind === 'url' && out[f.name] !== undefined) out[f.name] = maskUrl(out[f.name] ?? '')
  return out
}

export function gatewayView(
  ctx: Ctx,
  r: GatewayConfigRow,
  names: { tenant: string; branch: string | null },
  source: ConfigSource,
): GatewayView {
  const type = r.type as GatewayType
  const sealed = parseJsonObject(r.secrets)
  const secrets: Record<string, string> = {}
  for (const [field, envelope] of Object.entries(sealed)) {
    secrets[field] = maskSecret(unseal(ctx, envelope, secretContext(r.id, field)))
  }
  return {
    id: r.id,
    type,
    tenant: names.tenant,
    branch: names.branch,
    source,
    enabled: r.enabled === 1,
    settings: maskUrlSettings(type, displaySettings(type, parseJsonObject(r.settings))),
    secrets,
    fees: feesView(feesOf(r)),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }
}

export { listGatewaySecrets, setGatewaySecrets } from './gateways-store.js'
