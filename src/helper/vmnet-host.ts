// The host side of a vmnet VM (macOS) as root keeps it: socket_vmnet owns the interface, the NAT and the DHCP, so
// what is left is DLite's hosts line (`<address> local.docker`) and the address itself, recorded in root's own
// directory for the routes that go via it. The address is the one vmnet's DHCP gave the VM, so it is accepted only
// inside the registered network, and never the network's, the Mac's (.1) or the broadcast address.
import {readFileSync, rmSync} from 'node:fs'

import {writeFileAtomic} from 'dlite-kit/atomic-write'
import {cidrContains, formatIpv4, parseIpv4, prefixMask, requireCidr} from 'dlite-kit/ipv4'

import {addHostsEntry, removeHostsEntry} from '../network/hosts-file.js'
import type {Subnet} from '../network/subnet.js'

export interface VmnetHostSpec {
  homeId: string
  subnet: Subnet
  hostname: string
  hostsFile: string
  /** vmAddressPath(homeId): root's record of the VM's address. */
  addressFile: string
}

/** Why `ip` cannot be this VM's address on vmnet, or undefined when it can. */
export function vmAddressRefusal(ip: string, subnet: Subnet): string | undefined {
  const address = parseIpv4(ip)
  if (address === undefined || formatIpv4(address) !== ip) return `${JSON.stringify(ip)} is not an IPv4 address (a.b.c.d)`
  const network = requireCidr(subnet.cidr)
  if (!cidrContains(network, address)) return `${ip} is outside the registered network ${subnet.cidr}`
  const broadcast = formatIpv4((network.network | ~prefixMask(network.prefix)) >>> 0)
  if ([subnet.network, subnet.hostIp, broadcast].includes(ip)) return `${ip} is the network's own, the Mac's or the broadcast address of ${subnet.cidr}, not a VM's`
  return undefined
}

/** Records the VM's address and names it in the hosts file (both idempotent). The caller checked it. */
export async function setVmnetAddress(spec: VmnetHostSpec, ip: string): Promise<void> {
  await writeFileAtomic(spec.addressFile, `${ip}\n`, 0o644)
  await addHostsEntry(spec.hostsFile, {ip, hostname: spec.hostname, homeId: spec.homeId})
}

/** The address recorded for the VM, or undefined when none is (the VM has not reported one since it was set up). */
export function recordedVmnetAddress(spec: Pick<VmnetHostSpec, 'addressFile' | 'subnet'>): string | undefined {
  let text: string
  try {
    text = readFileSync(spec.addressFile, 'utf8').trim()
  } catch {
    return undefined
  }
  // root wrote it, but a record out of shape is no address to route via
  return vmAddressRefusal(text, spec.subnet) === undefined ? text : undefined
}

/** Forgets the address and takes the hosts line out; safe when neither is there. */
export async function clearVmnetAddress(spec: VmnetHostSpec): Promise<void> {
  rmSync(spec.addressFile, {force: true})
  await removeHostsEntry(spec.hostsFile, spec.homeId)
}
