import { BlockList, isIP } from 'node:net'

/** The proxies trusted by default: this machine (nginx or a load balancer beside the daemon). */
export const DEFAULT_TRUSTED_PROXIES = ['127.0.0.0/8', '::1']

/**
 * An address as the socket or a proxy writes it, in one form: trimmed, an IPv4 address mapped
 * into IPv6 (`::ffff:10.0.0.1`, what a dual-stack socket reports) as plain IPv4, IPv6 lower-case.
 * undefined when it is not an IP address at all.
 */
export function normaliseIp(addr: string | undefined): string | undefined {
  if (addr === undefined) return undefined
  let a = addr.trim()
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1)
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(a)
  if (mapped?.[1]) a = mapped[1]
  const family = isIP(a)
  if (family === 0) return undefined
  return family === 6 ? a.toLowerCase() : a
}

/** A list of addresses and networks (IPv4 or IPv6, `a.b.c.d/n`, `x::y/n`), checked as a set. */
export interface AddressSet {
  readonly entries: readonly string[]
  has(addr: string | undefined): boolean
}

/**
 * Parses `10.0.0.0/8,::1,…`; the entry that is not an address or network is returned as `bad`
 * (the caller names its flag).
 */
export function parseAddressSet(entries: readonly string[]): AddressSet | { bad: string } {
  const list = new BlockList()
  for (const entry of entries) {
    const [ip = '', bits, extra] = entry.split('/')
    const norm = normaliseIp(ip)
    const family = norm === undefined ? 0 : isIP(norm)
    const max = family === 4 ? 32 : 128
    if (
      !norm ||
      extra !== undefined ||
      (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > max))
    )
      return { bad: entry }
    const type = family === 4 ? 'ipv4' : 'ipv6'
    if (bits === undefined) list.addAddress(norm, type)
    else list.addSubnet(norm, Number(bits), type)
  }
  return {
    entries,
    has(addr) {
      const a = normaliseIp(addr)
      if (!a) return false
      return list.check(a, isIP(a) === 4 ? 'ipv4' : 'ipv6')
    },
  }
}

/**
 * The client's address, as the major web frameworks find it behind proxies: the socket's peer,
 * unless that peer is a trusted proxy; then X-Forwarded-For is read from the right (each proxy
 * appends the address it received the request from), skipping trusted proxies, and the first
 * address that is not one is the client. Everything left of it was written by the client (or
 * by a proxy nobody vouches for) and is ignored: `X-Forwarded-For: <allowed>, <real client>`
 * is the real client. An entry that is not an address ends the walk with no address (undefined).
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | undefined,
  trusted: AddressSet | undefined,
): string | undefined {
  const socket = normaliseIp(peer)
  if (!trusted || !socket || !trusted.has(socket) || !forwardedFor) return socket
  const hops = forwardedFor.split(',')
  let client: string | undefined = socket
  for (let i = hops.length - 1; i >= 0; i--) {
    if (hops[i]?.trim() === '') continue
    const hop = normaliseIp(hops[i])
    if (!hop) return undefined
    client = hop
    if (!trusted.has(hop)) return hop
  }
  // Every hop is a trusted proxy: the left-most is as far as anyone vouches.
  return client
}
