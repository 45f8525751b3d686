import { MORE_MATCH } from '../core/list.js'
import { toJson } from './json.js'
import type { Output } from './output.js'
import type { Runtime } from './runtime.js'

export interface ListEmit<T> {
  /** Pages of rows, newest first; every row of every page is written as it comes. */
  pages: AsyncIterable<T[]>
  /** After the pages: whether more rows matched than the limit allowed. */
  more: () => boolean
  /** The human text of one page (`first`: it has the header line). */
  render: (rows: T[], first: boolean) => string
  /** Lines after the last page (e.g. totals kept as running sums), human output only. */
  after?: (() => string | undefined) | undefined
  /** The human text when nothing matched. */
  empty: string
}

/**
 * Writes a list page by page so `--all` keeps constant memory: with --json one array written as it
 * goes, else one table per page (the header once). Says on stderr when more rows matched.
 */
export async function emitList<T>(
  io: { rt: Runtime; out: Output; progress?: { done(): void } | undefined },
  list: ListEmit<T>,
): Promise<void> {
  const { rt, out } = io
  let count = 0
  for await (const rows of list.pages) {
    io.progress?.done()
    if (rows.length === 0) continue
    if (out.json) {
      const items = rows.map((r) => toJson(r).replace(/^/gm, '  '))
      rt.stdout.write(`${count === 0 ? '[\n' : ',\n'}${items.join(',\n')}`)
    } else {
      out.print(`${list.render(rows, count === 0)}\n`)
    }
    count += rows.length
  }
  io.progress?.done()
  if (out.json) rt.stdout.write(count === 0 ? '[]\n' : '\n]\n')
  else if (count === 0) out.print(`${list.empty}\n`)
  else {
    const tail = list.after?.()
    if (tail) out.print(`${tail}\n`)
  }
  if (list.more()) out.info(MORE_MATCH)
}
