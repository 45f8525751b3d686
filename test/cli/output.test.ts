import { describe, expect, it } from 'vitest'
import { colorEnabled, renderTable, truncate } from '../../src/cli/output.js'
import { testRuntime } from '../helpers/run-cli.js'

const HEAD = ['Payment', 'Branch', 'Amount', 'Note', 'Status']
const ROWS = [
  ['pay_01', 'westlands', 'KES 12.00', 'a short note', 'succeeded'],
  ['pay_02', 'karen', 'KES 1,234,567.50', 'a very long note that goes on and on and on', 'failed'],
]

describe('one table style', () => {
  it('has a header line, no rules, and money right-aligned', () => {
    expect(renderTable(HEAD, ROWS).split('\n')).toEqual([
      'Payment  Branch               Amount  Note                                         Status',
      'pay_01   westlands         KES 12.00  a short note                                 succeeded',
      'pay_02   karen      KES 1,234,567.50  a very long note that goes on and on and on  failed',
    ])
  })

  it('fits a width: long text cut with …, then the least important columns dropped', () => {
    const at75 = renderTable(HEAD, ROWS, { columns: 75 }).split('\n')
    for (const l of at75) expect(l.length).toBeLessThanOrEqual(75)
    expect(at75[2]).toBe('pay_02   karen      KES 1,234,567.50  a very long note that g…  failed')
    const at60 = renderTable(HEAD, ROWS, { columns: 60 }).split('\n')
    expect(at60[0]).toBe('Payment  Branch               Amount  Status')
    const at40 = renderTable(HEAD, ROWS, { columns: 40 }).split('\n')
    for (const l of at40) expect(l.length).toBeLessThanOrEqual(40)
    expect(at40[0]).toBe('Payment            Amount  Status')
    // Without a width (piped), nothing is cut or dropped.
    expect(renderTable(HEAD, ROWS)).toContain('and on and on')
    expect(truncate('abcdef', 4)).toBe('abc…')
  })

  it('colours status only when asked, and adds totals under the rows', () => {
    const plain = renderTable(HEAD, ROWS, { totals: [['Total', '', 'KES 1,234,579.50', '', '']] })
    expect(plain).not.toContain('\u001b[')
    expect(plain.split('\n').at(-1)).toBe(`Total${' '.repeat(15)}KES 1,234,579.50`)
    const coloured = renderTable(HEAD, ROWS, { color: true })
    expect(coloured).toContain('\u001b[32msucceeded\u001b[39m')
    expect(coloured).toContain('\u001b[31mfailed\u001b[39m')
  })

  it('colour needs a terminal and is off with NO_COLOR or --no-color', () => {
    const { rt } = testRuntime({ env: {} })
    const bare = { ...rt, env: {} }
    expect(colorEnabled(bare, {}, true)).toBe(true)
    expect(colorEnabled(bare, {}, false)).toBe(false)
    expect(colorEnabled({ ...rt, env: { NO_COLOR: '1' } }, {}, true)).toBe(false)
    expect(colorEnabled(bare, { color: false }, true)).toBe(false)
  })
})
