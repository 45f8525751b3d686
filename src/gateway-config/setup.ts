import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { fieldError, usageError, validationError } from '../core/errors.js'
import { checkField, resolveConfig, validateConfig } from '../core/gateways/config.js'
import { type FeeInput, noFees, parseFees } from '../core/gateways/fees.js'
import { GATEWAY_FIELDS, isRequired } from '../core/gateways/fields.js'
import { GATEWAY_TYPES, type GatewayType, isGatewayType } from '../core/gateways/types.js'
import { maskUrl } from '../core/url-mask.js'
import { isKnownHost, KNOWN_HOSTS } from '../gateways/known-hosts.js'
import { seal } from '../vault/vault.js'
import {
  findGatewayConfig,
  type GatewayConfigRow,
  insertGatewayConfig,
  replaceGatewayConfig,
} from './gateways-store.js'
import { checkScope, resolveScope, type ScopeInput, scopeLabel } from './scope.js'
import {
  displaySettings,
  feesOf,
  feesView,
  type GatewayView,
  gatewayView,
  maskUrlSettings,
  parseJsonObject,
  secretContext,
} from './view.js'

export interface SetupInput extends ScopeInput {
  type: string
  /** Field values by camelCase name, as given on the command line or read from files. */
  values: Record<string, string>
  fees: FeeInput
  enabled?: boolean | undefined
  /** A production base URL off the gateway's known hosts is accepted (`--custom-base-url`). */
  customBaseUrl?: boolean | undefined
  /**
   * Called before anything is written when the base URL in force changes (the API refuses it
   * for tenant-scoped tokens). `from` is undefined for a new configuration.
   */
  onBaseUrlChange?: ((from: string | undefined, to: string) => void) | undefined
}

export function parseGatewayType(type: string): GatewayType {
  if (!isGatewayType(type)) {
    throw usageError(
      'unknown_gateway_type',
      `unknown gateway type "${type}"`,
      `use one of ${GATEWAY_TYPES.join(', ')}`,
    )
  }
  return type
}

/** Flags that belong to another gateway type are a usage error, not silently ignored. */
function checkFieldsBelong(type: GatewayType, values: Record<string, string>): void {
  const own = new Set(GATEWAY_FIELDS[type].map((f) => f.name))
  const foreign = Object.keys(values).filter((k) => !own.has(k))
  if (foreign.length > 0) {
    throw fieldError(
      'usage',
      'flag_not_for_type',
      foreign,
      `${foreign.join(', ')} ${foreign.length === 1 ? 'does' : 'do'} not apply to ${type}`,
      `see \`dsh gateway setup ${type} --help\``,
    )
  }
}

/**
 * Creates or updates the configuration of one type for a branch or a tenant. Given values
 * override the current ones; missing required values are asked for on a terminal, otherwise
 * listed all at once as a usage error.
 */
export async function setupGateway(
  ctx: Ctx,
  input: SetupInput,
): Promise<{ created: boolean; view: GatewayView }> {
  const type = parseGatewayType(input.type)
  const scopeIn = checkScope(input)
  checkFieldsBelong(type, input.values)
  // Judge the given values on their own first, so invalid input (3) outranks not found (4).
  validateConfig(type, resolveConfig(type, input.values).values)
  const store = await ctx.store()
  const target = await resolveScope(store.db, scopeIn)
  const existing = await findGatewayConfig(store.db, target.scope, type)
  const current = existing ? displaySettings(type, parseJsonObject(existing.settings)) : {}
  let currentSecrets = existing ? parseJsonObject(existing.secrets) : {}
  const endpoint = endpointChange(type, current, input.values)
  if (endpoint.environmentChanged && input.values['baseUrl'] === undefined && current['baseUrl']) {
    // The old environment's default URL does not follow the configuration to the new one.
    const oldDefault = resolveConfig(type, { environment: current['environment'] ?? '' }).values[
      'baseUrl'
    ]
    if (current['baseUrl'] === oldDefault) delete current['baseUrl']
  }
  if (endpoint.givenUrl !== undefined) {
    // A base URL the caller chose (not the one in force, nor the environment's default) moves
    // the secrets to another host: asked first, so a refusal (403) outranks an invalid body.
    const env = input.values['environment'] ?? current['environment'] ?? 'sandbox'
    const inForce = existing
      ? current['baseUrl']
      : resolveConfig(type, { environment: env }).values['baseUrl']
    if (endpoint.givenUrl !== inForce)
      input.onBaseUrlChange?.(current['baseUrl'], endpoint.givenUrl)
  }
  if (existing && (endpoint.environmentChanged || endpoint.baseUrlChanged)) {
    // Secrets were given for the old endpoint: a new one must be given every secret again, so a
    // changed URL can never carry them to another host.
    currentSecrets = {}
    const secretFields = GATEWAY_FIELDS[type].filter((f) => f.kind === 'secret')
    const absent = secretFields.filter((f) => !input.values[f.name])
    if (absent.length > 0)
      throw fieldError(
        'validation',
        'secrets_required',
        absent.map((f) => f.name),
        `a new ${endpoint.environmentChanged ? 'environment' : 'base URL'} keeps no stored secret: give ${absent.map((f) => f.name).join(', ')} again`,
        'secrets are sent to the base URL; give every secret with the new endpoint',
      )
  }
  // Existing secrets count as present: they need not be typed again.
  const present = {
    ...current,
    ...Object.fromEntries(Object.keys(currentSecrets).map((k) => [k, '(kept)'])),
  }
  // Prompt mode only when something required is missing: complete flags are never questioned.
  const prompting =
    ctx.ask.interactive && resolveConfig(type, input.values, present).missing.length > 0
  const given = prompting
    ? { ...input.values, ...(await askInOrder(ctx, type, input.values, present)) }
    : input.values
  let { values, missing } = resolveConfig(type, given, present)
  // A field given for another variant (a paybill number on a till account) is a mistake, not a
  // value to drop silently.
  for (const f of GATEWAY_FIELDS[type]) {
    const when = f.requiredWhen
    if (!when || given[f.name] === undefined || isRequired(f, values)) continue
    throw fieldError(
      'usage',
      'field_not_for_variant',
      [f.name, when.field],
      `${f.name} does not apply when ${when.field} is ${values[when.field] ?? '(not set)'}`,
      `it is for ${when.field} ${when.equals}`,
    )
  }
  if (missing.length > 0) {
    const filled = await ctx.ask.fill(
      values,
      missing.map((f) => ({
        key: f.name,
        flag: `--${f.flag}`,
        message: f.label,
        ...(f.kind === 'secret' ? { secret: true } : {}),
        ...(f.choices ? { choices: f.choices } : {}),
      })),
    )
    ;({ values, missing } = resolveConfig(type, { ...given, ...filled }, present))
  }
  const secretNames = new Set(
    GATEWAY_FIELDS[type].filter((f) => f.kind === 'secret').map((f) => f.name),
  )
  const forValidation = Object.fromEntries(
    Object.entries(values).filter(([k, v]) => !(secretNames.has(k) && v === '(kept)')),
  )
  const normalised = validateConfig(type, forValidation)
  checkBaseUrl(type, normalised, input.customBaseUrl === true)
  const oldBaseUrl = existing ? parseJsonObject(existing.settings)['baseUrl'] : undefined
  const newBaseUrl = normalised['baseUrl']
  const baseUrlMoved = newBaseUrl !== undefined && newBaseUrl !== oldBaseUrl
  if (type === 'mpesa-kcb') checkKcbCurrencies(ctx, normalised)
  const fees = parseFees(input.fees, existing ? feesOf(existing) : noFees(target.currency))

  const now = ctx.clock.now().toISOString()
  const id = existing?.id ?? ctx.ids.next('gw')
  const settings: Record<string, string> = {}
  const secrets: Record<string, string> = { ...currentSecrets }
  for (const [k, v] of Object.entries(normalised)) {
    if (secretNames.has(k)) secrets[k] = seal(ctx, v, secretContext(id, k))
    else settings[k] = v
  }
  const row: GatewayConfigRow = {
    id,
    tenant_id: target.tenant.id,
    branch_id: target.branch?.id ?? null,
    scope: target.scope,
    type,
    enabled: input.enabled === false ? 0 : input.enabled === true ? 1 : (existing?.enabled ?? 1),
    settings: JSON.stringify(settings),
    secrets: JSON.stringify(secrets),
    fee_currency: fees.currency,
    transaction_fee_bp: fees.transactionFeeBp,
    transaction_fee_flat_minor: fees.transactionFeeFlatMinor,
    conversion_fee_bp: fees.conversionFeeBp,
    settlement_fee_minor: fees.settlementFeeMinor,
    created_at: existing?.created_at ?? now,
    updated_at: now,
  }
  await store.write(async (trx) => {
    const again = await findGatewayConfig(trx, target.scope, type)
    if (again && again.id !== id)
      throw validationError(
        'concurrent_setup',
        `the ${type} configuration of ${scopeLabel(target)} changed meanwhile; run the command again`,
      )
    if (again) await replaceGatewayConfig(trx, row)
    else await insertGatewayConfig(trx, row)
    await audit(ctx, trx, {
      action: existing ? 'gateway.update' : 'gateway.create',
      tenant: target.tenant.slug,
      branch: target.branch?.code ?? null,
      target: id,
      request: {
        type,
        settings: maskUrlSettings(type, settings),
        updatedFields: Object.keys(input.values).sort(),
        ...(baseUrlMoved
          ? {
              baseUrlChange: {
                from: oldBaseUrl === undefined ? null : maskUrl(oldBaseUrl),
                to: maskUrl(newBaseUrl),
              },
            }
          : {}),
        fees: feesView(fees),
        enabled: row.enabled === 1,
      },
    })
  })
  return {
    created: !existing,
    view: gatewayView(
      ctx,
      row,
      { tenant: target.tenant.slug, branch: target.branch?.code ?? null },
      target.branch ? 'branch' : 'tenant',
    ),
  }
}

/** Whether the given values move the configuration to another environment or base URL. */
function endpointChange(
  type: GatewayType,
  current: Record<string, string>,
  given: Record<string, string>,
): { environmentChanged: boolean; baseUrlChanged: boolean; givenUrl?: string } {
  if (type === 'cash') return { environmentChanged: false, baseUrlChanged: false }
  const env = given['environment']?.trim()
  const url = given['baseUrl']?.trim().replace(/\/+$/, '')
  return {
    environmentChanged: env !== undefined && env !== (current['environment'] ?? 'sandbox'),
    baseUrlChanged: url !== undefined && url !== current['baseUrl'],
    ...(url === undefined ? {} : { givenUrl: url }),
  }
}

/**
 * Secrets go to the base URL: never in clear text in production, never to a host outside the
 * gateway's known ones unless the operator says so, never with a password in the URL.
 */
function checkBaseUrl(type: GatewayType, values: Record<string, string>, custom: boolean): void {
  const url = values['baseUrl']
  if (url === undefined) return
  const parsed = new URL(url)
  if (parsed.username || parsed.password)
    throw fieldError(
      'validation',
      'invalid_field',
      ['baseUrl'],
      `baseUrl: ${maskUrl(url)} must not contain user information (user:password@)`,
      'give credentials with their own flags, never in the URL',
    )
  if (values['environment'] !== 'production') return
  if (parsed.protocol !== 'https:')
    throw fieldError(
      'validation',
      'invalid_field',
      ['baseUrl'],
      'baseUrl: production URLs must use https',
      'use https://…, or --environment sandbox for a local simulator',
    )
  if (!custom && !isKnownHost(type, url))
    throw fieldError(
      'validation',
      'unknown_gateway_host',
      ['baseUrl'],
      `baseUrl: ${parsed.host} is not a known ${type} host (${type === 'cash' ? '' : KNOWN_HOSTS[type].join(', ')})`,
      'only `dsh gateway setup … --custom-base-url` sends this gateway’s secrets to another host',
    )
}

/**
 * On a terminal: asks, in the field table's order, every field the flag path requires and the
 * ones shown with their default (environment, base URL), skipping what was given or is already
 * configured and the fields the chosen account type does not need. Each answer is judged as it is
 * typed (the same rules as the flags) and asked again when bad.
 */
async function askInOrder(
  ctx: Ctx,
  type: GatewayType,
  given: Readonly<Record<string, string>>,
  present: Readonly<Record<string, string>>,
): Promise<Record<string, string>> {
  const answers: Record<string, string> = {}
  for (const f of GATEWAY_FIELDS[type]) {
    if (given[f.name] !== undefined || present[f.name] !== undefined) continue
    const known = { ...present, ...given, ...answers }
    if (!isRequired(f, known) && (f.requiredWhen !== undefined || f.prompt !== true)) continue
    let def = f.defaultFrom?.(known)
    if (f.name === 'baseUrl' && known['environment'] === 'sandbox')
      def = (await localSandboxUrl(ctx)) ?? def
    const filled = await ctx.ask.fill({}, [
      {
        key: f.name,
        flag: `--${f.flag}`,
        message: f.choices && !def ? `${f.label} (${f.choices.join('/')})` : f.label,
        default: def,
        ...(f.kind === 'secret' ? { secret: true } : {}),
        ...(f.choices ? { choices: f.choices } : {}),
        validate: (v: string) => {
          try {
            checkField(type, f.name, v, known)
            return undefined
          } catch (e) {
            return (e as Error).message.replace(/^--[a-z-]+: /, '')
          }
        },
      },
    ])
    const v = filled[f.name]
    if (v !== undefined) answers[f.name] = v
  }
  return answers
}

/**
 * The local `dsh sandbox` when one answers on this machine (DSH_SANDBOX_URL, else the default
 * http://127.0.0.1:8090), offered as the base URL of a sandbox set-up.
 */
async function localSandboxUrl(ctx: Ctx): Promise<string | undefined> {
  const url = (ctx.env['DSH_SANDBOX_URL'] || 'http://127.0.0.1:8090').replace(/\/+$/, '')
  try {
    const host = new URL(url).hostname
    if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(host)) return undefined
    const res = await fetch(`${url}/__control/magic`, { signal: AbortSignal.timeout(500) })
    await res.body?.cancel()
    return res.ok ? url : undefined
  } catch {
    return undefined
  }
}

/** PRODUCT.md: KCB's M-Pesa collection is KES; other currencies are the operator's claim. */
function checkKcbCurrencies(ctx: Ctx, values: Record<string, string>): void {
  const list = (values['currencies'] ?? 'KES').split(',')
  const def = values['defaultCurrency'] ?? 'KES'
  if (!list.includes(def)) {
    throw fieldError(
      'validation',
      'invalid_field',
      ['defaultCurrency', 'currencies'],
      `defaultCurrency ${def} is not among currencies ${list.join(',')}`,
    )
  }
  const others = list.filter((c) => c !== 'KES')
  if (others.length > 0) {
    ctx.warn(
      `KCB M-Pesa collection is documented for KES only; ${others.join(', ')} will be tried as you configured. Confirm with KCB that they are supported.`,
    )
  }
}
