// IPv4 prefixes as numbers: parsing, normalising and the one question routing asks, "do these overlap?".

export interface Prefix {
  /** The network address (host bits cleared), as an unsigned 32-bit number. */
  network: number
  prefix: number
}

export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  let value = 0
  for (const part of parts) {
    // no leading zeros: `010` is octal to inet_aton and decimal here, so it means two addresses
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return undefined
    value = value * 256 + Number(part)
  }
  return value
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.')
}

export function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
}

/** `a.b.c.d/n` (host bits may be set) or a bare address (/32); undefined for anything else, IPv6 included. */
export function parsePrefix(text: string): Prefix | undefined {
  const [address, bits, extra] = text.split('/')
  if (extra !== undefined) return undefined
  const value = parseIpv4(address)
  if (value === undefined) return undefined
  const prefix = bits === undefined ? 32 : /^\d{1,2}$/.test(bits) ? Number(bits) : Number.NaN
  if (!(prefix >= 0 && prefix <= 32)) return undefined
  return {network: (value & prefixMask(prefix)) >>> 0, prefix}
}

export function formatPrefix(p: Prefix): string {
  return `${formatIpv4(p.network)}/${p.prefix}`
}

/** The canonical `a.b.c.d/n` form, or undefined when the text is not an IPv4 prefix. */
export function normalizePrefix(text: string): string | undefined {
  const parsed = parsePrefix(text)
  return parsed && formatPrefix(parsed)
}

/** Two prefixes overlap when the shorter one contains the other's network address. */
export function overlaps(a: Prefix, b: Prefix): boolean {
  const mask = prefixMask(Math.min(a.prefix, b.prefix))
  return ((a.network & mask) >>> 0) === ((b.network & mask) >>> 0)
}

/** RFC 1918 space: the only place a docker network may sit and get a host route (docker's own pools are in it). */
const PRIVATE_RANGES: Prefix[] = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map((text) => parsePrefix(text)!)

/**
 * A prefix inside RFC 1918 space and no broader than /8. Anything else would send the host's traffic for
 * public addresses (`docker network create --subnet 1.1.1.0/24`) into the VM.
 */
export function isPrivatePrefix(p: Prefix): boolean {
  return p.prefix >= 8 && PRIVATE_RANGES.some((range) => p.prefix >= range.prefix && overlaps(p, range))
}
