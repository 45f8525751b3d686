export const GATEWAY_TYPES = ['mpesa', 'mpesa-kcb', 'stripe', 'square', 'cash'] as const
export type GatewayType = (typeof GATEWAY_TYPES)[number]

export const ENVIRONMENTS = ['sandbox', 'production'] as const
export type Environment = (typeof ENVIRONMENTS)[number]

export const isGatewayType = (s: string): s is GatewayType =>
  (GATEWAY_TYPES as readonly string[]).includes(s)

/** The gateways that call dsh back (callbacks and webhooks), the bank API included. */
export const CALLBACK_GATEWAYS = ['mpesa', 'mpesa-kcb', 'stripe', 'square', 'bank'] as const
export type CallbackGateway = (typeof CALLBACK_GATEWAYS)[number]
