// The VM network as the daemon and install use it: the bridge takes .1, the VM .2 (arithmetic in ipv4.ts).
import {formatIpv4, networkOf, parseCidr, prefixMask} from 'dlite-kit/ipv4'

export interface Subnet {
  network: string
  prefix: number
  cidr: string
  hostIp: string
  vmIp: string
  netmask: string
}

export function parseSubnet(cidr: string): Subnet {
  const parsed = parseCidr(cidr)
  if (!parsed) throw new Error(`not an IPv4 CIDR: ${cidr}`)
  const network = networkOf(parsed.address, parsed.prefix)
  return {
    network: formatIpv4(network),
    prefix: parsed.prefix,
    cidr: `${formatIpv4(network)}/${parsed.prefix}`,
    hostIp: formatIpv4(network + 1),
    vmIp: formatIpv4(network + 2),
    netmask: formatIpv4(prefixMask(parsed.prefix)),
  }
}
