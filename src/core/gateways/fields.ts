import type { GatewayType } from './types.js'

export type FieldKind =
  | 'text'
  | 'secret'
  | 'enum'
  | 'digits'
  | 'url'
  | 'money'
  | 'currency'
  | 'currencies'
  | 'path'
  | 'int'

export interface FieldSpec {
  /** camelCase name, used in storage and JSON. */
  name: string
  /** kebab-case flag without dashes: the field name as the user types it. */
  flag: string
  kind: FieldKind
  label: string
  /** Required unless `requiredWhen` says otherwise. */
  required?: boolean
  /** Required only when another field has this value, e.g. tillNumber when accountType=till. */
  requiredWhen?: { field: string; equals: string }
  choices?: readonly string[]
  /** A default that depends on other fields (e.g. base URL per environment). */
  defaultFrom?: (values: Readonly<Record<string, string>>) => string | undefined
  max?: number
  /** For 'int' fields: the allowed range. */
  range?: readonly [number, number]
  /**
   * Asked on a terminal although it has a default (shown in the prompt): the environment and the
   * base URL. Other defaulted fields (timeouts, breaker) are left to flags.
   */
  prompt?: boolean
}

const environment: FieldSpec = {
  name: 'environment',
  flag: 'environment',
  kind: 'enum',
  label: 'Environment',
  required: true,
  choices: ['sandbox', 'production'],
  defaultFrom: () => 'sandbox',
  prompt: true,
}

const baseUrl = (sandbox: string, production: string): FieldSpec => ({
  name: 'baseUrl',
  flag: 'base-url',
  kind: 'url',
  label: 'Base URL',
  prompt: true,
  defaultFrom: (v) => (v['environment'] === 'production' ? production : sandbox),
})

/** A whole-number setting within `range`, `fallback` unless given. */
const intField = (
  name: string,
  flag: string,
  label: string,
  range: readonly [number, number],
  fallback: string,
): FieldSpec => ({ name, flag, kind: 'int', label, range, defaultFrom: () => fallback })

/** Transport and breaker settings every remote gateway has (ORCHESTRATION.md). */
const reliability: readonly FieldSpec[] = [
  intField('readTimeout', 'read-timeout', 'Read timeout in seconds', [1, 120], '30'),
  intField(
    'breakerThreshold',
    'breaker-threshold',
    'Consecutive gateway faults that open the breaker',
    [1, 100],
    '5',
  ),
  intField(
    'breakerCooldown',
    'breaker-cooldown',
    'Seconds the breaker stays open before a probe',
    [1, 3600],
    '30',
  ),
]

/**
 * The fields of each gateway type (GATEWAYS.md and the report's configuration templates).
 * Fees are common to all types and handled apart (see fees.ts).
 */
export const GATEWAY_FIELDS: Readonly<Record<GatewayType, readonly FieldSpec[]>> = {
  mpesa: [
    environment,
    {
      name: 'accountType',
      flag: 'account-type',
      kind: 'enum',
      label: 'Account type',
      required: true,
      choices: ['till', 'paybill'],
    },
    {
      name: 'shortcode',
      flag: 'shortcode',
      kind: 'digits',
      label: 'Business shortcode',
      required: true,
      max: 10,
    },
    {
      name: 'tillNumber',
      flag: 'till-number',
      kind: 'digits',
      label: 'Till number',
      requiredWhen: { field: 'accountType', equals: 'till' },
      max: 10,
    },
    {
      name: 'paybillNumber',
      flag: 'paybill-number',
      kind: 'digits',
      label: 'Paybill number',
      requiredWhen: { field: 'accountType', equals: 'paybill' },
      max: 10,
    },
    {
      name: 'passkey',
      flag: 'passkey',
      kind: 'secret',
      label: 'Lipa na M-Pesa passkey',
      required: true,
    },
    {
      name: 'consumerKey',
      flag: 'consumer-key',
      kind: 'secret',
      label: 'Daraja consumer key',
      required: true,
    },
    {
      name: 'consumerSecret',
      flag: 'consumer-secret',
      kind: 'secret',
      label: 'Daraja consumer secret',
      required: true,
    },
    baseUrl('https://sandbox.safaricom.co.ke', 'https://api.safaricom.co.ke'),
    {
      name: 'callbackPolicy',
      flag: 'callback-policy',
      kind: 'enum',
      label: 'Callback policy',
      choices: ['verify', 'trust'],
      defaultFrom: () => 'verify',
    },
    ...reliability,
  ],
  'mpesa-kcb': [
    environment,
    { name: 'apiKey', flag: 'api-key', kind: 'secret', label: 'KCB/Zed API key', required: true },
    baseUrl('https://api.dev.zed.business', 'https://api.prod.zed.business'),
    {
      name: 'externalOrigin',
      flag: 'external-origin',
      kind: 'text',
      label: 'External origin (business id)',
      required: true,
      max: 100,
    },
    {
      name: 'currencies',
      flag: 'currencies',
      kind: 'currencies',
      label: 'Currencies',
      defaultFrom: () => 'KES',
    },
    {
      name: 'defaultCurrency',
      flag: 'default-currency',
      kind: 'currency',
      label: 'Default currency',
      defaultFrom: () => 'KES',
    },
    {
      name: 'highValueThreshold',
      flag: 'high-value-threshold',
      kind: 'money',
      label: 'High-value threshold (major units)',
      defaultFrom: () => '10000',
    },
    ...reliability,
  ],
  stripe: [
    environment,
    {
      name: 'secretKey',
      flag: 'secret-key',
      kind: 'secret',
      label: 'Stripe secret key',
      required: true,
    },
    {
      name: 'webhookSecret',
      flag: 'webhook-secret',
      kind: 'secret',
      label: 'Stripe webhook signing secret',
      required: true,
    },
    {
      name: 'publishableKey',
      flag: 'publishable-key',
      kind: 'text',
      label: 'Stripe publishable key',
      max: 200,
    },
    baseUrl('https://api.stripe.com', 'https://api.stripe.com'),
    ...reliability,
  ],
  square: [
    environment,
    {
      name: 'accessToken',
      flag: 'access-token',
      kind: 'secret',
      label: 'Square access token',
      required: true,
    },
    {
      name: 'locationId',
      flag: 'location-id',
      kind: 'text',
      label: 'Square location id',
      required: true,
      max: 100,
    },
    {
      name: 'webhookSignatureKey',
      flag: 'webhook-signature-key',
      kind: 'secret',
      label: 'Square webhook signature key',
      required: true,
    },
    {
      name: 'webhookUrl',
      flag: 'webhook-url',
      kind: 'url',
      label: 'Notification URL registered with Square',
    },
    baseUrl('https://connect.squareupsandbox.com', 'https://connect.squareup.com'),
    ...reliability,
  ],
  cash: [],
}

/** The fields of a gateway type that `values` holds a value for, each with its value. */
export const fieldsWithValues = (
  type: GatewayType,
  values: Readonly<Record<string, string>>,
): [FieldSpec, string][] =>
  GATEWAY_FIELDS[type].flatMap((f) => {
    const v = values[f.name]
    return v === undefined ? [] : [[f, v] as [FieldSpec, string]]
  })

export const ALL_FIELDS: readonly FieldSpec[] = (() => {
  const seen = new Map<string, FieldSpec>()
  for (const list of Object.values(GATEWAY_FIELDS))
    for (const f of list) if (!seen.has(f.flag)) seen.set(f.flag, f)
  return [...seen.values()]
})()

export const isRequired = (f: FieldSpec, values: Readonly<Record<string, string>>): boolean =>
  f.required === true ||
  (f.requiredWhen !== undefined && values[f.requiredWhen.field] === f.requiredWhen.equals)
