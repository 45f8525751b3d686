import { configError } from '../core/errors.js'
import type { GatewayType } from '../core/gateways/types.js'
import type { GatewayAdapter } from '../core/payments/gateway-port.js'
import type { Clock } from '../core/ports.js'
import { BANK_CODES } from './bank/codes.js'
import type { AdapterConfig } from './config.js'
import { createDarajaAdapter } from './daraja/adapter.js'
import { DARAJA_CODES } from './daraja/codes.js'
import type { GatewayDeps } from './deps.js'
import { createHttpClient, type HttpClientOptions } from './http.js'
import { createKcbAdapter } from './kcb/adapter.js'
import { KCB_CODES } from './kcb/codes.js'
import type { CodeRule, CodeTable } from './outcomes.js'
import { createSquareAdapter } from './square/adapter.js'
import { SQUARE_CODES } from './square/codes.js'
import { createStripeAdapter } from './stripe/adapter.js'
import { STRIPE_CODES } from './stripe/codes.js'
import { createTokenCache } from './token-cache.js'

export { normalisePhone } from '../core/phone.js'
export { fromStripeAmount, mpesaWholeShillings, toSquareAmount, toStripeAmount } from './amounts.js'
export {
  type BankTransferClient,
  createBankTransferClient,
  type TransferRequest,
  verifyBankSignature,
} from './bank/client.js'
export type { AdapterConfig } from './config.js'
export { accountReferenceFor, matchesAccountReference } from './daraja/account-ref.js'
export type { C2BRegistration, DarajaAdapter } from './daraja/adapter.js'
export { parseC2BConfirmation, parseStkCallback } from './daraja/callback.js'
export type { GatewayDeps } from './deps.js'
export {
  createHttpClient,
  type HttpClient,
  type HttpClientOptions,
  TransportError,
} from './http.js'
export type { CodeRule, CodeTable } from './outcomes.js'
export { squareIdempotencyKey, squareReferenceId } from './square/adapter.js'
export { verifySquareSignature } from './square/signature.js'
export { STRIPE_ATTEMPT_KEY } from './stripe/adapter.js'
export { verifyStripeSignature } from './stripe/signature.js'
export { nairobiTimestamp } from './time.js'
export { createTokenCache, type TokenCache } from './token-cache.js'
export { BANK_CODES, DARAJA_CODES, KCB_CODES, SQUARE_CODES, STRIPE_CODES }

/** Every classification table, for `dsh gateway explain <code>` and reviews. */
export const CODE_TABLES: Readonly<Record<Exclude<GatewayType, 'cash'> | 'bank', CodeTable>> = {
  mpesa: DARAJA_CODES,
  'mpesa-kcb': KCB_CODES,
  stripe: STRIPE_CODES,
  square: SQUARE_CODES,
  bank: BANK_CODES,
}

/** The rows that match `code` (exactly, or 500.001.1001 → its message variants) per gateway. */
export function explainCode(code: string): { gateway: string; code: string; rule: CodeRule }[] {
  const want = code.trim()
  const out: { gateway: string; code: string; rule: CodeRule }[] = []
  for (const [gateway, table] of Object.entries(CODE_TABLES)) {
    for (const [key, rule] of Object.entries(table)) {
      if (key === want || key.startsWith(`${want}/`) || key.toLowerCase() === want.toLowerCase())
        out.push({ gateway, code: key, rule })
    }
  }
  return out
}

/** One adapter for one gateway configuration. `cash` has no gateway: it is recorded at once. */
export function createAdapter(
  type: GatewayType,
  config: AdapterConfig,
  deps: GatewayDeps,
): GatewayAdapter {
  switch (type) {
    case 'mpesa':
      return createDarajaAdapter(config, deps)
    case 'mpesa-kcb':
      return createKcbAdapter(config, deps)
    case 'stripe':
      return createStripeAdapter(config, deps)
    case 'square':
      return createSquareAdapter(config, deps)
    case 'cash':
      throw configError(
        'no_adapter',
        'cash has no gateway adapter',
        'cash payments are recorded at once, without a gateway call',
      )
  }
}

/**
 * The process-wide dependencies: one keep-alive HTTP client and one token cache shared by every
 * branch. Close `http` on shutdown.
 */
export function createGatewayDeps(clock: Clock, http: HttpClientOptions = {}): GatewayDeps {
  return { http: createHttpClient(http), tokens: createTokenCache(clock), clock }
}
