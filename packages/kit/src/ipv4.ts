// IPv4 address and CIDR arithmetic, for the core (the VM subnet and what is derived from it) and the plugins
// (docker networks, host routes) alike, so `010` or `1.2.3.4/08` means the same thing everywhere: nothing.

export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  network: number
  prefix: number
}

// No leading zeros: `010` is octal to inet_aton and decimal to a naive parser, so it would mean two addresses.
const OCTET = /^(0|[1-9][0-9]{0,2})$/

/** Parses dotted-quad IPv4 text; undefined when it is not exactly four decimal octets 0..255. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  let value = 0
  for (const part of parts) {
    if (!OCTET.test(part)) return undefined
    const octet = Number(part)
    if (octet > 255) return undefined
    value = value * 256 + octet
  }
  return value
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.')
}

export function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
}

/**
 * Parses `a.b.c.d/n` without requiring alignment (so callers can say what the aligned network would be).
 * Returns the address as given, and its prefix length.
 */
export function parseCidr(text: string): {address: number; prefix: number} | undefined {
  const match = /^([0-9.]+)\/([0-9]{1,2})$/.exec(text.trim())
  if (!match) return undefined
  const address = parseIpv4(match[1])
  const prefix = Number(match[2])
  if (address === undefined || prefix > 32 || !/^(0|[1-9][0-9]?)$/.test(match[2])) return undefined
  return {address, prefix}
}

/** `a.b.c.d/n` (host bits may be set) or a bare address (/32), as the aligned network; undefined otherwise (IPv6 too). */
export function parsePrefix(text: string): Cidr | undefined {
  const parsed = text.includes('/') ? parseCidr(text) : ((address) => (address === undefined ? undefined : {address, prefix: 32}))(parseIpv4(text.trim()))
  return parsed && {network: networkOf(parsed.address, parsed.prefix), prefix: parsed.prefix}
}

/** The canonical `a.b.c.d/n` form of a prefix or address, or undefined when the text is not one. */
export function normalizePrefix(text: string): string | undefined {
  const parsed = parsePrefix(text)
  return parsed && formatCidr(parsed)
}

export function networkOf(address: number, prefix: number): number {
  return (address & prefixMask(prefix)) >>> 0
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefix}`
}

/** The aligned network; throws on text that is not a CIDR or not aligned (use validation first). */
export function requireCidr(text: string): Cidr {
  const parsed = parseCidr(text)
  if (!parsed) throw new Error(`not an IPv4 CIDR: ${text}`)
  if (networkOf(parsed.address, parsed.prefix) !== parsed.address) throw new Error(`not a network address: ${text}`)
  return {network: parsed.address, prefix: parsed.prefix}
}

export function cidrContains(outer: Cidr, address: number): boolean {
  return networkOf(address, outer.prefix) === outer.network
}

/** Two aligned networks overlap exactly when one contains the other's network address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.prefix <= b.prefix ? cidrContains(a, b.network) : cidrContains(b, a.network)
}

/** Host `n` of the network (1 = first usable address). */
export function hostAddress(cidr: Cidr, n: number): number {
  return (cidr.network + n) >>> 0
}

export const PRIVATE_RANGES: readonly Cidr[] = [
  requireCidr('10.0.0.0/8'),
  requireCidr('172.16.0.0/12'),
  requireCidr('192.168.0.0/16'),
]

/**
 * True when the whole network lies inside one RFC 1918 range (so it is no broader than /8). Anything else,
 * routed to the VM, would send the host's traffic for public addresses there.
 */
export function isRfc1918(cidr: Cidr): boolean {
  return PRIVATE_RANGES.some((range) => range.prefix <= cidr.prefix && cidrContains(range, cidr.network))
}
