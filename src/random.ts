import { randomBytes } from 'node:crypto'

/**
 * Random bytes (for ids) from a refilled pool: one crypto call per 16 KiB rather than per id (a
 * reconciliation run makes 100k ids). Each call's bytes are fresh; a view is valid until the next.
 */
export function pooledRandom(): (n: number) => Uint8Array {
  let pool = Buffer.alloc(0)
  let at = 0
  return (n) => {
    if (n > 16_384) return randomBytes(n)
    if (at + n > pool.length) {
      pool = randomBytes(16_384)
      at = 0
    }
    at += n
    return pool.subarray(at - n, at)
  }
}
