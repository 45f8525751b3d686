export { allocate } from './allocate.js'
export { CURRENCY_CODES, type Currency, currency, isCurrency } from './currency.js'
export { formatMoney, moneyFields, toDecimalString, toGroupedString } from './format.js'
export {
  add,
  isNegative,
  type Money,
  money,
  rescale,
  subtract,
  sum,
  zero,
} from './money.js'
export {
  parseAmount,
  parseNonNegativeAmount,
  parsePositiveAmount,
} from './parse.js'
export {
  applyRate,
  type BasisPoints,
  divRoundHalfUp,
  formatPercent,
  parsePercent,
} from './rates.js'
