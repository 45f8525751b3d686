import type { IdGen } from './ports.js'

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/**
 * Time-ordered ids (ULID layout: 48-bit ms time + 80 random bits, Crockford base32), so ids sort
 * by creation. `random` is injected so core stays free of I/O modules.
 */
export function ulidGen(now: () => number, random: (n: number) => Uint8Array): IdGen {
  return {
    next(prefix: string): string {
      let t = now()
      let time = ''
      for (let i = 0; i < 10; i++) {
        time = ALPHABET[t % 32] + time
        t = Math.floor(t / 32)
      }
      const bytes = random(16)
      let rand = ''
      for (let i = 0; i < 16; i++) rand += ALPHABET[(bytes[i] ?? 0) % 32]
      return `${prefix}_${time}${rand}`
    },
  }
}
