// Addresses derived from the configured subnet: the host's bridge is .1, the VM is .2. The arithmetic
// is network/subnet.ts's; these are the config-facing names.
import {parseSubnet} from '../network/subnet.js'

/** The VM's address: the second address of the subnet (e.g. 192.168.64.2). */
export function vmIp(subnet: string): string {
  return parseSubnet(subnet).vmIp
}

/** The host side (bridge) address and the VM's gateway: the first address (e.g. 192.168.64.1). */
export function bridgeIp(subnet: string): string {
  return parseSubnet(subnet).hostIp
}

export function prefixLength(subnet: string): number {
  return parseSubnet(subnet).prefix
}

/** Dotted netmask, for guests and tools that want one (e.g. 255.255.255.0). */
export function netmask(subnet: string): string {
  return parseSubnet(subnet).netmask
}
