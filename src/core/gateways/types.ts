export const GATEWAY_TYPES = ['mpesa', 'mpesa-kcb', 'stripe', 'square', 'cash'] as const
export type GatewayType = (typeof GATEWAY_TYPES)[number]

export const ENVIRONMENTS = ['sandbox', 'production'] as const
export type Environment = (typeof ENVIRONMENTS)[number]

export const isGatewayType = (s: string): s is GatewayType =>
  (GATEWAY_TYPES as readonly string[]).includes(s)
