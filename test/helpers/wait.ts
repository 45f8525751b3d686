/**
 * The one way a test waits: for a state, polled until `check` returns something truthy (a row in
 * the ledger, a line in a log, a status in the store), failing with `what` and the last error
 * once `deadlineMs` have passed. test/architecture.test.ts refuses any other timer in test/
 * unless its line says why it is no wait for a state (`// timer(<kind>): why`).
 */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  deadlineMs: number,
  what = 'a condition',
  everyMs = 25,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + deadlineMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v) return v as NonNullable<T>
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${deadlineMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      )
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/**
 * A plain timer, for the few that are no wait for a state (test/helpers/waits-rule.ts lists the
 * kinds): every call outside this file must say which, `// timer(<kind>): <why>`.
 */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
