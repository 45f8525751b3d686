/** The most characters of one piece of input a message echoes back. */
export const ECHO_LIMIT = 200

/**
 * A message fit to print: every run of more than ECHO_LIMIT characters without a space or a
 * quote (an echoed flag value, path or body) is cut to its start and its length, so a huge input
 * never makes a huge error (nor one cut short by a pipe).
 */
export function clipEchoes(message: string): string {
  return message.replace(
    new RegExp(`[^\\s"'\`]{${ECHO_LIMIT + 1},}`, 'g'),
    (run) => `${run.slice(0, ECHO_LIMIT)}… (${run.length} characters)`,
  )
}
