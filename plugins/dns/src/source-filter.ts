// Who may ask the responder: the VM's own subnet (the guest and its containers, NATed to the guest's address,
// and the host on the bridge) and loopback. Anything else that reaches the bridge address (a routed
// network, another VM) is not ours to serve: an open resolver forwards for anyone and can be used to amplify.
import {isIP} from 'node:net'

function ipv4Number(text: string): number | undefined {
  const parts = text.split('.')
  if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255)) return undefined
  return parts.reduce((value, part) => value * 256 + Number(part), 0)
}

export type SourceFilter = (address: string) => boolean

/** Addresses in `subnet` (a.b.c.d/n) or on loopback (127.0.0.0/8, ::1); IPv4-mapped IPv6 counts as IPv4. */
export function sourceFilter(subnet: string): SourceFilter {
  const [base, bits] = subnet.split('/')
  const network = ipv4Number(base)
  const prefix = Number(bits)
  if (network === undefined || !Number.isInteger(prefix) || prefix < 1 || prefix > 32) throw new Error(`not an IPv4 subnet: ${subnet}`)
  const mask = prefix === 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0
  return (address) => {
    const plain = address.replace(/^::ffff:/i, '')
    if (plain === '::1') return true
    if (isIP(plain) !== 4) return false
    const value = ipv4Number(plain)!
    return value >>> 24 === 127 || ((value & mask) >>> 0) === ((network & mask) >>> 0)
  }
}
