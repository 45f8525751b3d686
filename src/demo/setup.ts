import { callbackUrlFor } from '../callbacks/callback-url.js'
import type { Ctx } from '../context.js'
import { setupGateway } from '../gateway-config/setup.js'
import { setRate } from '../reports/rates.js'
import { setRules } from '../routing/rules.js'
import { SANDBOX_PASSKEY, type Sandbox } from '../sandbox/index.js'
import { setSettlementAccount } from '../settlement/accounts.js'
import { setCollectionAccount } from '../settlement/collection-accounts.js'
import { addBranch } from '../tenants/branches.js'
import { addTenant } from '../tenants/tenants.js'

/** The demo's tenant and its three branches, one per East African currency. */
export const TENANT = 'savanna'
export const BRANCHES = [
  { code: 'nairobi', name: 'Nairobi CBD', currency: 'KES', timezone: 'Africa/Nairobi' },
  { code: 'kampala', name: 'Kampala Road', currency: 'UGX', timezone: 'Africa/Kampala' },
  { code: 'dar', name: 'Dar es Salaam Harbour', currency: 'TZS', timezone: 'Africa/Dar_es_Salaam' },
] as const
export type DemoBranch = (typeof BRANCHES)[number]

/** The bank API key and webhook secret of Nairobi's `http` settlement account (sandbox values). */
const BANK_API_KEY = 'demo_bank_key_nairobi'
const BANK_WEBHOOK_SECRET = 'demo_bank_whsec_nairobi'

/**
 * Tenant, branches, gateways (with fees) and settlement accounts, through the same services
 * `dsh tenant add`, `dsh branch add`, `dsh gateway setup`, `dsh route set`,
 * `dsh tenant collection-account` and `dsh branch settlement-account` use.
 */
export async function setUpTenant(ctx: Ctx, sandbox: Sandbox): Promise<void> {
  const url = sandbox.url
  await addTenant(ctx, { slug: TENANT, name: 'Savanna Grill', currency: 'KES' })
  for (const b of BRANCHES) {
    await addBranch(ctx, {
      code: b.code,
      tenant: TENANT,
      name: b.name,
      currency: b.currency,
      timezone: b.timezone,
      methods: b.currency === 'KES' ? 'mpesa,card,cash' : 'card,cash',
    })
    await setCollectionAccount(ctx, TENANT, {
      currency: b.currency,
      accountName: 'Savanna Grill Ltd',
      accountNumber: `10020030${BRANCHES.indexOf(b)}`,
      bankName: 'Demo Bank',
      bankCode: '01',
    })
  }
  const reliability = { baseUrl: url, readTimeout: '1', breakerThreshold: '50' }
  const gateway = (
    type: string,
    branch: string,
    values: Record<string, string>,
    fees: Record<string, string> = {},
  ) => setupGateway(ctx, { type, branch, values, fees })

  // Nairobi: M-Pesa Daraja (KES only), KCB for high-value and enterprise pushes, Stripe.
  await gateway(
    'mpesa',
    'nairobi',
    {
      environment: 'sandbox',
      accountType: 'paybill',
      shortcode: '174379',
      paybillNumber: '174379',
      passkey: SANDBOX_PASSKEY,
      consumerKey: 'demoConsumerKey',
      consumerSecret: 'demoConsumerSecret',
      ...reliability,
      readTimeout: '5',
    },
    { transactionFeeRate: '0.55' },
  )
  await gateway(
    'mpesa-kcb',
    'nairobi',
    {
      environment: 'sandbox',
      apiKey: 'demoKcbApiKey',
      externalOrigin: 'savanna-1',
      ...reliability,
    },
    { transactionFeeRate: '1', settlementFee: '50' },
  )
  for (const b of BRANCHES) {
    await gateway(
      'stripe',
      b.code,
      {
        environment: 'sandbox',
        secretKey: `sk_test_demo_${b.code}`,
        webhookSecret: `whsec_demo_${b.code}`,
        ...reliability,
        // Kampala's Stripe gives up after 1 s: the demo's slow answer (2 s) becomes `unknown`.
        readTimeout: b.code === 'kampala' ? '1' : '5',
      },
      { transactionFeeRate: '2.9', transactionFeeFlat: b.currency === 'UGX' ? '1000' : '30' },
    )
    if (b.currency !== 'KES')
      await gateway(
        'square',
        b.code,
        {
          environment: 'sandbox',
          accessToken: `sq_demo_${b.code}`,
          locationId: `L${b.code.toUpperCase()}`,
          webhookSignatureKey: `sqwh_demo_${b.code}`,
          ...reliability,
          readTimeout: '5',
        },
        { transactionFeeRate: '2.6' },
      )
    await gateway('cash', b.code, {})
  }
  // Dar es Salaam sends cards to Square first (Stripe second): a branch rule, as `dsh route set`.
  await setRules(ctx, 'dar', {
    rules: [
      { name: 'cash', when: { method: 'cash' }, gateways: ['cash'] },
      { name: 'card', when: { method: 'card' }, gateways: ['square', 'stripe'] },
    ],
    fallback: ['square', 'stripe'],
  })

  // Exchange rates into the tenant's currency, for the report's comparison (as `dsh rates set`).
  await setRate(ctx, { from: 'UGX', to: 'KES', rate: '0.0347' })
  await setRate(ctx, { from: 'TZS', to: 'KES', rate: '0.0489' })

  // Settlement accounts: holding 0 h, by hand; Nairobi through the (sandbox) bank API.
  for (const b of BRANCHES) {
    const http = b.code === 'nairobi'
    await setSettlementAccount(ctx, b.code, {
      currency: b.currency,
      accountName: `Savanna Grill ${b.name}`,
      accountNumber: `20030040${BRANCHES.indexOf(b)}`,
      bankName: 'Demo Bank',
      bankCode: '01',
      schedule: 'daily',
      at: '23:59',
      holdingHours: '0',
      auto: false,
      transfer: http ? 'http' : 'file',
      ...(http
        ? { bankApiUrl: url, bankApiKey: BANK_API_KEY, bankWebhookSecret: BANK_WEBHOOK_SECRET }
        : {}),
    })
  }
}

/** Points the sandbox bank's signed confirmations (for Nairobi's API key) at the daemon. */
export async function registerBankWebhook(ctx: Ctx, sandbox: Sandbox): Promise<void> {
  const { url } = await callbackUrlFor(ctx, 'bank', 'nairobi', false)
  sandbox.registerWebhook({
    gateway: 'bank',
    url,
    secret: BANK_WEBHOOK_SECRET,
    apiKey: BANK_API_KEY,
  })
}
