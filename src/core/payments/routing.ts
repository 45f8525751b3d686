import { validationError } from '../errors.js'
import { GATEWAY_TYPES, type GatewayType, isGatewayType } from '../gateways/types.js'
import { isCurrency, currency as lookupCurrency } from '../money/currency.js'
import { formatMoney } from '../money/format.js'
import { parseAmount } from '../money/parse.js'
import { controlCharIn } from '../validate.js'

export const METHODS = ['mpesa', 'card', 'cash'] as const
export type Method = (typeof METHODS)[number]
export const CUSTOMER_TYPES = ['regular', 'enterprise'] as const
export type CustomerType = (typeof CUSTOMER_TYPES)[number]

/** Which gateways can take which method. */
export const METHOD_GATEWAYS: Readonly<Record<Method, readonly GatewayType[]>> = {
  mpesa: ['mpesa', 'mpesa-kcb'],
  card: ['stripe', 'square'],
  cash: ['cash'],
}

export interface RuleCondition {
  currency?: string
  /** Major units as a decimal string, compared in the payment's currency. */
  minAmount?: string
  maxAmount?: string
  customerType?: CustomerType
  method?: Method
  /** Order currency differs from the branch currency. */
  crossBorder?: boolean
}

export interface RoutingRule {
  when: RuleCondition
  gateways: GatewayType[]
  /** Shown in decisions; defaults to "rule N". */
  name?: string
}

export interface RoutingRules {
  rules: RoutingRule[]
  fallback: GatewayType[]
}

export interface RouteInput {
  amountMinor: bigint
  currency: string
  branchCurrency: string
  method: Method
  customerType: CustomerType
}

/** What a gateway configuration offers the router. */
export interface GatewayOffer {
  type: GatewayType
  enabled: boolean
  currencies: readonly string[] | 'any'
}

export interface Candidate {
  gateway: GatewayType
  eligible: boolean
  reason: string
}

export interface RouteDecision {
  rule: string
  reason: string
  candidates: Candidate[]
  /** Eligible gateways in the order to try them. */
  order: GatewayType[]
}

/** PRODUCT.md's default rules (from the report), as an ordinary rule list. */
export function defaultRules(highValueThreshold = '10000'): RoutingRules {
  return {
    rules: [
      { name: 'cash', when: { method: 'cash' }, gateways: ['cash'] },
      { name: 'card', when: { method: 'card' }, gateways: ['stripe', 'square'] },
      {
        name: 'cross-border',
        when: { method: 'mpesa', crossBorder: true },
        gateways: ['mpesa-kcb', 'mpesa'],
      },
      {
        name: 'high value',
        when: { method: 'mpesa', minAmount: highValueThreshold },
        gateways: ['mpesa-kcb', 'mpesa'],
      },
      {
        name: 'enterprise',
        when: { method: 'mpesa', customerType: 'enterprise' },
        gateways: ['mpesa-kcb', 'mpesa'],
      },
    ],
    fallback: ['mpesa', 'mpesa-kcb'],
  }
}

function amountIn(text: string, code: string): bigint {
  return parseAmount(text, code).minor
}

function matches(c: RuleCondition, r: RouteInput): string | null {
  const why: string[] = []
  if (c.method !== undefined) {
    if (c.method !== r.method) return null
    why.push(`method ${r.method}`)
  }
  if (c.currency !== undefined) {
    if (lookupCurrency(c.currency).code !== r.currency) return null
    why.push(`currency ${r.currency}`)
  }
  if (c.crossBorder !== undefined) {
    if (c.crossBorder !== (r.currency !== r.branchCurrency)) return null
    why.push(
      c.crossBorder
        ? `cross-border (${r.currency} order at a ${r.branchCurrency} branch)`
        : 'domestic',
    )
  }
  if (c.customerType !== undefined) {
    if (c.customerType !== r.customerType) return null
    why.push(`${r.customerType} customer`)
  }
  if (c.minAmount !== undefined) {
    const min = amountIn(c.minAmount, r.currency)
    if (r.amountMinor < min) return null
    why.push(
      `${formatMoney({ minor: r.amountMinor, currency: r.currency })} ≥ ${formatMoney({ minor: min, currency: r.currency })}`,
    )
  }
  if (c.maxAmount !== undefined) {
    const max = amountIn(c.maxAmount, r.currency)
    if (r.amountMinor > max) return null
    why.push(
      `${formatMoney({ minor: r.amountMinor, currency: r.currency })} ≤ ${formatMoney({ minor: max, currency: r.currency })}`,
    )
  }
  return why.length > 0 ? why.join(', ') : 'matches everything'
}

/**
 * First matching rule wins, else the fallback list; then each listed gateway is checked against
 * what is configured and enabled, the currency, and the method. Deterministic and explainable.
 */
export function route(
  input: RouteInput,
  rules: RoutingRules,
  offers: readonly GatewayOffer[],
): RouteDecision {
  let chosen: RoutingRule | undefined
  let reason = ''
  let label = 'fallback'
  for (const [i, rule] of rules.rules.entries()) {
    const why = matches(rule.when, input)
    if (why !== null) {
      chosen = rule
      reason = why
      label = rule.name ?? `rule ${i + 1}`
      break
    }
  }
  const listed = chosen ? chosen.gateways : rules.fallback
  if (!chosen) reason = 'no rule matched'
  const candidates: Candidate[] = listed.map((gateway) => {
    const offer = offers.find((o) => o.type === gateway)
    if (!METHOD_GATEWAYS[input.method].includes(gateway))
      return { gateway, eligible: false, reason: `does not take ${input.method} payments` }
    if (!offer) return { gateway, eligible: false, reason: 'not configured for this branch' }
    if (!offer.enabled) return { gateway, eligible: false, reason: 'disabled' }
    if (offer.currencies !== 'any' && !offer.currencies.includes(input.currency)) {
      return {
        gateway,
        eligible: false,
        reason: `does not take ${input.currency} (takes ${offer.currencies.join(', ')})`,
      }
    }
    return { gateway, eligible: true, reason: 'eligible' }
  })
  return {
    rule: label,
    reason,
    candidates,
    order: candidates.filter((c) => c.eligible).map((c) => c.gateway),
  }
}

const DOCUMENT_KEYS = ['rules', 'fallback']
const RULE_KEYS = ['name', 'when', 'gateways']

const CONDITION_KEYS = [
  'currency',
  'minAmount',
  'maxAmount',
  'customerType',
  'method',
  'crossBorder',
]

/** Validates a rules document (from `dsh route set --file`); every problem is named with its path. */
export function parseRules(doc: unknown): RoutingRules {
  const problems: string[] = []
  const gatewayList = (v: unknown, path: string, allowEmpty = false): GatewayType[] => {
    if (!Array.isArray(v) || (v.length === 0 && !allowEmpty)) {
      problems.push(`${path} must be a ${allowEmpty ? '' : 'non-empty '}list of gateways`)
      return []
    }
    const out: GatewayType[] = []
    for (const [i, g] of v.entries()) {
      if (typeof g === 'string' && isGatewayType(g)) out.push(g)
      else problems.push(`${path}[${i}] "${String(g)}" is not one of ${GATEWAY_TYPES.join(', ')}`)
    }
    return out
  }
  const obj = doc as { rules?: unknown; fallback?: unknown } | null
  if (!obj || typeof obj !== 'object' || Array.isArray(obj))
    throw validationError(
      'invalid_rules',
      'the rules file must be a JSON object with "rules" and "fallback"',
    )
  for (const k of Object.keys(obj))
    if (!DOCUMENT_KEYS.includes(k))
      problems.push(`"${k}" is not a known key (${DOCUMENT_KEYS.join(', ')})`)
  if (!Array.isArray(obj.rules)) problems.push('"rules" must be a list')
  const rules: RoutingRule[] = []
  for (const [i, raw] of (Array.isArray(obj.rules) ? obj.rules : []).entries()) {
    const path = `rules[${i}]`
    const r = raw as { when?: unknown; gateways?: unknown; name?: unknown } | null
    if (!r || typeof r !== 'object') {
      problems.push(`${path} must be an object`)
      continue
    }
    for (const k of Object.keys(r))
      if (!RULE_KEYS.includes(k))
        problems.push(`${path}.${k} is not a known key (${RULE_KEYS.join(', ')})`)
    const when = (r.when ?? {}) as Record<string, unknown>
    if (typeof when !== 'object' || Array.isArray(when))
      problems.push(`${path}.when must be an object`)
    for (const k of Object.keys(when))
      if (!CONDITION_KEYS.includes(k))
        problems.push(`${path}.when.${k} is not a known condition (${CONDITION_KEYS.join(', ')})`)
    const cond: RuleCondition = {}
    if (when['currency'] !== undefined) {
      if (typeof when['currency'] === 'string' && isCurrency(when['currency']))
        cond.currency = lookupCurrency(when['currency']).code
      else
        problems.push(`${path}.when.currency "${String(when['currency'])}" is not a known currency`)
    }
    for (const k of ['minAmount', 'maxAmount'] as const) {
      const v = when[k]
      if (v === undefined) continue
      const text = v
      if (typeof text !== 'string' || !/^\d+(\.\d+)?$/.test(text.replaceAll(',', '')))
        problems.push(
          `${path}.when.${k} must be an amount such as "10000" (a string in major units)`,
        )
      else {
        if (cond.currency) {
          try {
            parseAmount(text, cond.currency)
          } catch (e) {
            problems.push(`${path}.when.${k}: ${(e as Error).message}`)
          }
        }
        cond[k] = text
      }
    }
    if (when['customerType'] !== undefined) {
      if ((CUSTOMER_TYPES as readonly unknown[]).includes(when['customerType']))
        cond.customerType = when['customerType'] as CustomerType
      else problems.push(`${path}.when.customerType must be one of ${CUSTOMER_TYPES.join(', ')}`)
    }
    if (when['method'] !== undefined) {
      if ((METHODS as readonly unknown[]).includes(when['method']))
        cond.method = when['method'] as Method
      else problems.push(`${path}.when.method must be one of ${METHODS.join(', ')}`)
    }
    if (when['crossBorder'] !== undefined) {
      if (typeof when['crossBorder'] === 'boolean') cond.crossBorder = when['crossBorder']
      else problems.push(`${path}.when.crossBorder must be true or false`)
    }
    if (typeof r.name === 'string') {
      const control = controlCharIn(r.name)
      if (control !== undefined)
        problems.push(`${path}.name contains a control character (${control})`)
    }
    const gateways = gatewayList(r.gateways, `${path}.gateways`)
    rules.push({ when: cond, gateways, ...(typeof r.name === 'string' ? { name: r.name } : {}) })
  }
  const fallback = obj.fallback === undefined ? [] : gatewayList(obj.fallback, 'fallback', true)
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).join('; ')
    throw validationError(
      'invalid_rules',
      `the rules file has ${problems.length} problem${problems.length === 1 ? '' : 's'}: ${shown}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`,
      'see `dsh route set --help` for the format',
    )
  }
  return { rules, fallback }
}
