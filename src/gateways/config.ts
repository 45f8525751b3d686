import { configError } from '../core/errors.js'
import { GATEWAY_FIELDS } from '../core/gateways/fields.js'
import type { GatewayType } from '../core/gateways/types.js'

/** A gateway configuration as the vault hands it over: plain settings and decrypted secrets. */
export interface AdapterConfig {
  settings: Readonly<Record<string, string>>
  secrets: Readonly<Record<string, string>>
}

/** Reads configuration values, failing with a config error (exit 7) that names the flag. */
export interface ConfigReader {
  setting(name: string): string
  optionalSetting(name: string): string | undefined
  secret(name: string): string
  optionalSecret(name: string): string | undefined
  /** settings.baseUrl, else the default for the environment from fields.ts, without a trailing /. */
  baseUrl(): string
}

const flagOf = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

export function configReader(type: GatewayType | 'bank', config: AdapterConfig): ConfigReader {
  const missing = (name: string): never => {
    throw configError(
      'gateway_config_missing',
      `the ${type} gateway configuration has no ${name}`,
      type === 'bank'
        ? `set ${name} in the bank API configuration`
        : `set it with \`dsh gateway setup ${type} --${flagOf(name)} …\``,
    )
  }
  const nonEmpty = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v)
  return {
    setting: (name) => nonEmpty(config.settings[name])?.trim() ?? missing(name),
    optionalSetting: (name) => nonEmpty(config.settings[name])?.trim(),
    // Secrets keep inner whitespace but not a trailing newline from a file.
    secret: (name) => nonEmpty(config.secrets[name])?.replace(/\r?\n$/, '') ?? missing(name),
    optionalSecret: (name) => nonEmpty(config.secrets[name])?.replace(/\r?\n$/, ''),
    baseUrl() {
      const given = nonEmpty(config.settings['baseUrl'])
      const spec =
        type === 'bank' ? undefined : GATEWAY_FIELDS[type].find((f) => f.name === 'baseUrl')
      const url = given ?? spec?.defaultFrom?.(config.settings) ?? missing('baseUrl')
      return url.trim().replace(/\/+$/, '')
    },
  }
}

/**
 * The configured read timeout (setting `readTimeout`, whole seconds) in ms, or undefined to use
 * the HTTP client's own default.
 */
export function readTimeoutOf(cfg: ConfigReader): number | undefined {
  const v = cfg.optionalSetting('readTimeout')
  if (v === undefined || !/^\d{1,6}$/.test(v) || Number(v) <= 0) return undefined
  return Number(v) * 1000
}
