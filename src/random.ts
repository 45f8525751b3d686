/**
 * Random bytes (for ids) from a refilled pool: one crypto call per 16 KiB rather than per id (a
 * reconciliation run makes 100k ids). Each call's bytes are fresh; a view is valid until the next.
 * They come from the Web Crypto global (the same CSPRNG as node:crypto's randomBytes), which
 * loads on first use: commands that make no id, `dsh --help` first, do not load node:crypto.
 */
export function pooledRandom(): (n: number) => Uint8Array {
  let pool: Uint8Array = new Uint8Array(0)
  let at = 0
  return (n) => {
    if (n > 16_384) return fresh(n)
    if (at + n > pool.length) {
      pool = fresh(16_384)
      at = 0
    }
    at += n
    return pool.subarray(at - n, at)
  }
}

/** n fresh random bytes; getRandomValues fills at most 65,536 bytes per call. */
function fresh(n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i += 65_536) crypto.getRandomValues(out.subarray(i, i + 65_536))
  return out
}
