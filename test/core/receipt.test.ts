import { describe, expect, it } from 'vitest'
import type { GatewayOutcome } from '../../src/core/payments/gateway-port.js'
import { receiptProblem, withCheckedReceipt } from '../../src/core/payments/receipt.js'

describe('receipts are checked where they enter', () => {
  it.each([
    ['mpesa', 'NLJ7RT61SV', null],
    ['mpesa-kcb', 'QKC1A2B3C4', null],
    ['mpesa', 'nlj7rt61sv', 'an M-Pesa receipt is 10 capital letters or digits'],
    ['mpesa', 'NLJ7RT61SVX', 'an M-Pesa receipt is 10 capital letters or digits'],
    ['mpesa', '=1+1', 'an M-Pesa receipt is 10 capital letters or digits'],
    ['stripe', 'ch_3NqBxY2eZvKYlo2C0abcdEFG', null],
    ['square', 'Ab3x', null],
    ['stripe', '@SUM(1+1)', 'a receipt is letters, digits and _ . : / -'],
    ['square', '-1+1', 'a receipt is letters, digits and _ . : / -'],
    ['stripe', 'c'.repeat(65), '65 characters, at most 64'],
    ['stripe', 'c'.repeat(64), null],
  ])('%s %j → %s', (gateway, receipt, problem) => {
    expect(receiptProblem(gateway, receipt)).toBe(problem)
  })

  it('an outcome keeps a good receipt and loses a bad one, nothing else', () => {
    const o = (receiptNumber: string): GatewayOutcome => ({
      status: 'succeeded',
      refs: { gatewayRef: 'ws_CO_1', receiptNumber },
      code: '0',
      message: 'ok',
    })
    expect(withCheckedReceipt('mpesa', o('NLJ7RT61SV'))).toEqual(o('NLJ7RT61SV'))
    expect(withCheckedReceipt('mpesa', o('=1+1'))).toEqual({
      status: 'succeeded',
      refs: { gatewayRef: 'ws_CO_1' },
      code: '0',
      message: 'ok',
    })
  })
})
