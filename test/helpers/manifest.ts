import { createHmac, hkdfSync } from 'node:crypto'
import { readFileSync } from 'node:fs'

/*
 * The backup manifest's MAC as the README specifies it, written here independently of src/: tests
 * sign a tampered manifest with the real master key (what a key holder could do) to reach the
 * checks behind the MAC.
 */

const canonical = (v: unknown): string => {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`
  return JSON.stringify(v)
}

/** The manifest with `mac` = HMAC-SHA256(HKDF-SHA256(master key, label), canonical JSON of the rest). */
export function signManifest<T extends { mac?: string }>(m: T, masterKeyFile: string): T {
  const { mac: _mac, ...rest } = m
  const master = Buffer.from(readFileSync(masterKeyFile, 'utf8').trim(), 'base64')
  const key = Buffer.from(
    hkdfSync('sha256', master, Buffer.alloc(0), 'dsh backup manifest mac v1', 32),
  )
  return { ...rest, mac: createHmac('sha256', key).update(canonical(rest)).digest('hex') } as T
}
