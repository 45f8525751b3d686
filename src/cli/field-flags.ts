import { DshError } from '../core/errors.js'

const kebab = (field: string) => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`

/**
 * A capability names request fields (`idempotencyKey`); on the command line the same thing is a
 * flag (`--idempotency-key`). Rewrites exactly the fields the error lists, kebab-cased unless the
 * command maps a field to another flag (`orderId` is `--order`).
 */
export function asFlags(err: unknown, flags: Readonly<Record<string, string>> = {}): unknown {
  const fields = err instanceof DshError ? err.details?.['fields'] : undefined
  if (!(err instanceof DshError) || !Array.isArray(fields)) return err
  let message = err.message
  for (const f of fields as string[]) {
    message = message.replace(new RegExp(`(?<![\\w-])${f}(?![\\w-])`), flags[f] ?? kebab(f))
  }
  const { fields: _, ...rest } = err.details ?? {}
  return new DshError(err.kind, err.code, message, {
    hint: err.hint,
    cause: err.cause,
    details: rest,
  })
}
