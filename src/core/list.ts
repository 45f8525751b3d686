import { fieldError } from './errors.js'

/** Every list returns the newest 100 rows unless told otherwise (`--limit N`, `--all`). */
export const DEFAULT_LIST_LIMIT = 100

/** Rows fetched per page when streaming every row (`--all`): memory stays constant. */
export const LIST_PAGE_SIZE = 500

/** The stderr line when a list was cut at its limit. */
export const MORE_MATCH = 'more match — use --limit N or --all'

export interface ListWindow {
  /** At most this many rows; undefined with `all`. */
  limit: number | undefined
  all: boolean
}

/** `limit` (a whole number from 1) or `all`, not both; default the newest 100. */
export function parseListWindow(input: {
  limit?: string | undefined
  all?: boolean | undefined
}): ListWindow {
  if (input.all && input.limit !== undefined)
    throw fieldError('usage', 'conflicting_flags', ['limit', 'all'], 'give limit or all, not both')
  if (input.all) return { limit: undefined, all: true }
  if (input.limit === undefined) return { limit: DEFAULT_LIST_LIMIT, all: false }
  if (!/^\d{1,7}$/.test(input.limit) || Number(input.limit) < 1)
    throw fieldError(
      'validation',
      'invalid_limit',
      ['limit'],
      `limit "${input.limit}" must be a whole number from 1`,
    )
  return { limit: Number(input.limit), all: false }
}

/** A page of a list: the rows, and whether more rows matched than the limit allowed. */
export interface ListPage<T> {
  rows: T[]
  more: boolean
}

/**
 * Every row, page by page: `fetch(last, n)` returns up to n rows after `last` (undefined: from
 * the start) in the list's order. Memory holds one page at a time.
 */
export async function* keysetPages<R>(
  fetch: (last: R | undefined, n: number) => Promise<R[]>,
  pageSize = LIST_PAGE_SIZE,
): AsyncGenerator<R[]> {
  let last: R | undefined
  for (;;) {
    const rows = await fetch(last, pageSize)
    if (rows.length > 0) yield rows
    if (rows.length < pageSize) return
    last = rows[rows.length - 1]
  }
}

/** Given limit+1 fetched rows, the page of `limit` and whether more matched. */
export function cutPage<T>(fetched: T[], limit: number): ListPage<T> {
  return { rows: fetched.slice(0, limit), more: fetched.length > limit }
}

/**
 * A list's pages as views: with a limit, one page of the first `limit` rows (limit+1 fetched,
 * so `more()` tells whether more matched); with `all`, every row page by page.
 * `fetch(n, last)` returns up to n rows after `last` (undefined: from the start).
 */
export function windowPages<R, V>(
  window: ListWindow,
  fetch: (n: number, last: R | undefined) => Promise<R[]>,
  view: (row: R) => V,
): { pages: AsyncGenerator<V[]>; more: () => boolean } {
  let more = false
  async function* pages(): AsyncGenerator<V[]> {
    if (window.limit !== undefined) {
      const page = cutPage(await fetch(window.limit + 1, undefined), window.limit)
      more = page.more
      yield page.rows.map(view)
      return
    }
    for await (const rows of keysetPages((last: R | undefined, n) => fetch(n, last)))
      yield rows.map(view)
  }
  return { pages: pages(), more: () => more }
}
