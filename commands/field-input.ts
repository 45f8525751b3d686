/**
 * A service call whose field errors name the command's flags (`accountName` → `--account-name`),
 * as a person typed them.
 */
export async function withFlags<T>(call: Promise<T>): Promise<T> {
  try {
    return await call
  } catch (err) {
    const { asFlags } = await import('../src/cli/field-flags.js')
    throw asFlags(err)
  }
}

/** A prompt's check of a typed name: a control character is refused as it is typed, and asked again. */
export async function nameCheck(): Promise<(value: string) => string | undefined> {
  const { controlCharIn } = await import('../src/core/validate.js')
  return (v) => {
    const at = controlCharIn(v)
    return at === undefined ? undefined : `contains a control character (${at}); type it again`
  }
}
